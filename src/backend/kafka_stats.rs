//! The producer client's own statistics (librdkafka's `statistics.interval.ms`), kept
//! as the latest [`ClientView`] for the collector to read at each interval's close.
//! librdkafka calls back on its own thread once per emit, never per message, so the
//! hot path pays nothing for it.

use std::sync::{Arc, Mutex};

use rdkafka::client::ClientContext;
use rdkafka::statistics::{Statistics, Window};

use crate::stats::evidence::{BrokerView, ClientView};

/// How often librdkafka emits its statistics when the user's settings do not say: once
/// a second, the report's default interval (each emit costs a JSON document of a few
/// kB per broker and partition).
pub const STATISTICS_INTERVAL_MS: u64 = 1000;

/// The producer's context: the latest statistics, parsed.
#[derive(Clone, Default)]
pub struct ProducerStats {
    latest: Arc<Mutex<Option<ClientView>>>,
}

impl ProducerStats {
    /// The latest emit, if any came.
    pub fn latest(&self) -> Option<ClientView> {
        self.latest.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl ClientContext for ProducerStats {
    fn stats(&self, s: Statistics) {
        let view = view(&s);
        *self.latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(view);
    }
}

/// The brokers the client learned (id >= 0; bootstrap and internal handles aside), by id.
pub fn view(s: &Statistics) -> ClientView {
    let w = |w: &Option<Window>, f: fn(&Window) -> i64| w.as_ref().map_or(0, f);
    let mut brokers: Vec<BrokerView> = s
        .brokers
        .values()
        .filter(|b| b.nodeid >= 0)
        .map(|b| BrokerView {
            name: b.name.clone(),
            id: b.nodeid,
            int_latency_avg_us: w(&b.int_latency, |w| w.avg),
            int_latency_p99_us: w(&b.int_latency, |w| w.p99),
            outbuf_latency_p99_us: w(&b.outbuf_latency, |w| w.p99),
            rtt_avg_us: w(&b.rtt, |w| w.avg),
            rtt_p99_us: w(&b.rtt, |w| w.p99),
            throttle_max_ms: w(&b.throttle, |w| w.max),
            waitresp_msg_cnt: b.waitresp_msg_cnt,
        })
        .collect();
    brokers.sort_by_key(|b| b.id);
    ClientView {
        msg_cnt: s.msg_cnt,
        msg_max: s.msg_max,
        brokers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trimmed emit of librdkafka 2.12 (one learned broker, the bootstrap handle).
    const EMIT: &str = r#"{"name":"p#producer-1","client_id":"eventbench","type":"producer","ts":1,"time":1,"age":1,
      "replyq":0,"msg_cnt":120,"msg_size":9000,"msg_max":100000,"msg_size_max":1048576,"simple_cnt":0,"metadata_cache_cnt":1,
      "tx":10,"tx_bytes":100,"rx":10,"rx_bytes":100,"txmsgs":500,"txmsg_bytes":4000,"rxmsgs":0,"rxmsg_bytes":0,
      "brokers":{
        "127.0.0.1:9092/bootstrap":{"name":"127.0.0.1:9092/bootstrap","nodeid":-1,"nodename":"127.0.0.1:9092","source":"configured","state":"UP","stateage":1,
          "outbuf_cnt":0,"outbuf_msg_cnt":0,"waitresp_cnt":0,"waitresp_msg_cnt":0,"tx":1,"txbytes":1,"txerrs":0,"txretries":0,"txidle":1,"req_timeouts":0,
          "rx":1,"rxbytes":1,"rxerrs":0,"rxcorriderrs":0,"rxpartial":0,"rxidle":1,"zbuf_grow":0,"buf_grow":0,"wakeups":1,"connects":1,"disconnects":0,
          "req":{},"toppars":{}},
        "127.0.0.1:9092/1":{"name":"127.0.0.1:9092/1","nodeid":1,"nodename":"127.0.0.1:9092","source":"learned","state":"UP","stateage":1,
          "outbuf_cnt":0,"outbuf_msg_cnt":0,"waitresp_cnt":2,"waitresp_msg_cnt":37,"tx":9,"txbytes":99,"txerrs":0,"txretries":0,"txidle":1,"req_timeouts":0,
          "rx":9,"rxbytes":99,"rxerrs":0,"rxcorriderrs":0,"rxpartial":0,"rxidle":1,"zbuf_grow":0,"buf_grow":0,"wakeups":1,"connects":1,"disconnects":0,
          "int_latency":{"min":10,"max":900,"avg":120,"sum":1,"cnt":1,"stddev":1,"hdrsize":1,"p50":100,"p75":1,"p90":1,"p95":1,"p99":800,"p99_99":1,"outofrange":0},
          "outbuf_latency":{"min":1,"max":50,"avg":5,"sum":1,"cnt":1,"stddev":1,"hdrsize":1,"p50":4,"p75":1,"p90":1,"p95":1,"p99":40,"p99_99":1,"outofrange":0},
          "rtt":{"min":300,"max":5000,"avg":1500,"sum":1,"cnt":1,"stddev":1,"hdrsize":1,"p50":1200,"p75":1,"p90":1,"p95":1,"p99":4800,"p99_99":1,"outofrange":0},
          "throttle":{"min":0,"max":0,"avg":0,"sum":0,"cnt":0,"stddev":0,"hdrsize":1,"p50":0,"p75":0,"p90":0,"p95":0,"p99":0,"p99_99":0,"outofrange":0},
          "req":{"Produce":9},"toppars":{}}},
      "topics":{}}"#;

    #[test]
    fn an_emit_reads_as_the_learned_brokers_windows() {
        let s: Statistics = serde_json::from_str(EMIT).expect("librdkafka's statistics");
        let v = view(&s);
        assert_eq!((v.msg_cnt, v.msg_max), (120, 100_000));
        assert_eq!(v.brokers.len(), 1, "the bootstrap handle is not a broker: {v:?}");
        let b = &v.brokers[0];
        assert_eq!(
            (b.id, b.int_latency_p99_us, b.rtt_p99_us, b.rtt_avg_us),
            (1, 800, 4800, 1500)
        );
        assert_eq!(
            (b.outbuf_latency_p99_us, b.throttle_max_ms, b.waitresp_msg_cnt),
            (40, 0, 37)
        );
    }
}
