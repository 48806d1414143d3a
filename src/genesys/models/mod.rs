//! Wire models of the Genesys Cloud Platform API, field for field as in
//! `docs/reference/genesys-cloud-api.md`.
//!
//! The same structs are read by the client and written by the emulator, so a field-name
//! mistake would hide itself; the fidelity tests compare the emulator's JSON against fixtures
//! copied from the reference instead. Every optional Genesys field is an `Option`, unknown
//! fields are ignored, and enum values arrive as strings wrapped in types that keep values
//! they do not know ([`SystemPresence`], [`RoutingStatusKind`]).

mod common;
mod notifications;
mod presence;
mod routing;
pub mod time;
mod users;
mod wfm;

pub use common::{AuthErrorResponse, AuthResponse, EntityRef, ErrorBody, ErrorDetail};
pub use notifications::{
    ActivityEvent, ActivityPresence, Channel, ChannelEntityListing, ChannelMetadataBody,
    ChannelTopic, ChannelTopicEntityListing, ConversationSummaryEvent, Envelope, EnvelopeMetadata,
    OutOfOffice, PresenceEvent, RawEnvelope, RoutingStatusEvent, ScheduleUpdate,
    ScheduleUpdateEvent, SystemMessage, TopicState,
};
pub use presence::{
    LegacyPresenceListing, OrganizationPresence, PresenceDefinition, PresenceDefinitionListing,
    PresenceDefinitionRef, SystemPresence, SystemPresenceEntity, UserPresence,
};
pub use routing::{LabelUtilization, MediaUtilization, Queue, QueueMember, UtilizationResponse};
pub use users::{
    MediaCounts, MediaSummary, PagedListing, RoutingStatus, RoutingStatusKind, User,
    UserConversationSummary, UserListing,
};
pub use wfm::{
    ActivityCategory, ActivityCode, ActivityCodeListing, AgentManagementUnit, AgentSchedule,
    BusinessUnitListItem, BusinessUnitListing, FullDayTimeOffMarker, ManagementUnit,
    PublishedScheduleRef, ScheduleActivity, ScheduleSearchRequest, ScheduleSearchResponse,
    ScheduleSearchResult, ScheduleSearchStatus, Shift, WeekScheduleRef,
};
