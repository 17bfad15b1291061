//! The seed's four models and their exact Go JSON wire format
//! (`shared/docs/event-store-spec.md` §1).

mod event;
pub mod gojson;
mod messages;
mod time;

pub use event::Event;
pub use gojson::Strictness;
pub use messages::{EventMeta, EventStoreQuery, KafkaResponse};
pub use time::{GoTime, TimeError};
