//! The event store's four models and their exact Go JSON wire format
//! (docs/wire-format.md, "JSON wire format").

mod canonical;
pub mod capture;
mod decode;
mod event;
pub mod gojson;
mod messages;
pub mod tag;
mod time;

pub use event::Event;
pub use gojson::Strictness;
pub use messages::{EventMeta, EventStoreQuery, EventStoreQuery211, KafkaResponse};
pub use time::{GoTime, TimeError};
