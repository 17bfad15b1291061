//! The one HTML/XML escaper every view uses (report.html, its SVG charts, junit.xml,
//! the capacity page), so they cannot disagree about which characters are safe.
//! Control characters other than tab and newlines are dropped (XML 1.0 forbids them).

/// Escapes text for HTML or XML element content and double- or single-quoted
/// attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0 and mean nothing in HTML.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// The head of a tool's page (capacity, sizing) up to `<body>`: one style for both, so
/// their tables and charts read alike. `title` is escaped here.
pub fn tool_page(title: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>\
body{{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#222}}\
table{{border-collapse:collapse}}td,th{{border:1px solid #ddd;padding:3px 8px}}.pass{{color:#1a7f37}}.fail{{color:#b3261e}}.aside{{color:#777}}\
.chart .title{{font-weight:600;font-size:13px}}.chart .tick,.chart .legend,.chart .band-label{{font-size:11px;fill:#555}}\
.chart .grid{{stroke:#e4e4e4}}pre{{background:#f6f6f6;padding:10px;overflow:auto}}</style></head><body>",
        esc(title)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_markup_character_is_escaped() {
        assert_eq!(
            super::esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
