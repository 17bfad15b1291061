//! A fault's place: the span of the value a check refused, for the message's line and
//! column.

use std::ops::Range;

use toml::Spanned;

/// A refused value's byte range in the file (none for a value the file did not hold,
/// such as a default) and why it was refused.
pub(super) type Fault = (Option<Range<usize>>, String);

pub(super) fn at<T>(s: &Spanned<T>, msg: impl Into<String>) -> Fault {
    let span = s.span();
    (
        if span.is_empty() && span.start == 0 {
            None
        } else {
            Some(span)
        },
        msg.into(),
    )
}
