//! Tearline's vocabulary, without I/O: codes, classifications, TLP, markings and their banners,
//! the coalition (parties, groups, users, agreements, embargoes), portion-marked reports, and
//! their STIX 2.1 form.

mod classification;
mod coalition;
mod code;
mod collection;
mod marking;
mod release;
mod report;
pub mod stix;
mod tlp;

pub use classification::Classification;
pub use coalition::{Agreement, Coalition, Embargo, Group, Party, Topic, TopicError, User, UserName, UserNameError};
pub use code::{Code, CodeError};
pub use collection::Collection;
pub use marking::{
    BannerError, BannerProblem, CodeKind, Directory, Dissemination, Marking, RelTo, Restriction, UnknownCode,
};
pub use release::{Approval, PortionSet, ReleaseEntry, ReleaseFacts, Share};
pub use report::{Portion, Rendering, Report, ReportDraft, ReportError, ReportProblem};
pub use tlp::Tlp;
