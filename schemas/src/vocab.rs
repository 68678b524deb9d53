//! The closed vocabularies of DESIGN §2: each enum's wire name is written once
//! and serves serde, JSON Schema, Arrow and reports alike.

use arrow::array::StringBuilder;
use serde::{Deserialize, Serialize};

use crate::columns::{ColumnValue, string_builder};
use crate::fast_reader::{FastReader, Plain, QuotedName, ReadFast};
use crate::json_line::{WriteJson, write_str};

/// Defines an enum of wire names stored as a `Utf8` column.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident $(default $default:ident)? { $( $(#[$vmeta:meta])* $variant:ident = $wire:literal ),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $wire)] $variant, )+
        }

        impl $name {
            /// Every term, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name of this term.
            pub fn as_str(&self) -> &'static str {
                match self { $( $name::$variant => $wire, )+ }
            }
        }

        $(
            impl Default for $name {
                fn default() -> Self {
                    $name::$default
                }
            }
        )?

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ReadFast<'_> for $name {
            /// Wire names are not screened for secrets: none spells a
            /// credential (`validate::secrets` tests it).
            fn read(reader: &mut FastReader<'_, '_>) -> Plain<Self> {
                const TERMS: &[QuotedName] = &[ $( QuotedName::new($wire), )+ ];
                reader.one_of(TERMS).map(|index| $name::ALL[index])
            }
        }

        impl WriteJson for $name {
            fn write_json(&self, out: &mut Vec<u8>) {
                write_str(out, self.as_str());
            }
        }

        impl ColumnValue for $name {
            type Builder = StringBuilder;
            fn new_builder(capacity: usize) -> StringBuilder {
                string_builder(capacity)
            }
            fn append_to(&self, builder: &mut StringBuilder) {
                builder.append_value(self.as_str());
            }
            fn append_null(builder: &mut StringBuilder) {
                builder.append_null();
            }
        }
    };
}

vocabulary!(
    /// The kind of an event, which decides its fields and its table.
    EventType {
        AiUsage = "ai_usage",
        CodeChange = "code_change",
        Incident = "incident",
        CodeReview = "code_review",
    }
);

vocabulary!(
    /// The `event_type` of an `ai_usage` event.
    AiUsageTag { AiUsage = "ai_usage" }
);

vocabulary!(
    /// The `event_type` of a `code_change` event.
    CodeChangeTag { CodeChange = "code_change" }
);

vocabulary!(
    /// The `event_type` of an `incident` event.
    IncidentTag { Incident = "incident" }
);

vocabulary!(
    /// The `event_type` of a `code_review` event.
    CodeReviewTag { CodeReview = "code_review" }
);

vocabulary!(
    /// What a reviewer decided (DESIGN §9).
    ReviewState {
        Approved = "approved",
        ChangesRequested = "changes_requested",
        Commented = "commented",
        Dismissed = "dismissed",
    }
);

vocabulary!(
    /// What kind of AI interaction an `ai_usage` event records.
    Operation default Chat {
        Chat = "chat",
        Completion = "completion",
        Agent = "agent",
        Edit = "edit",
        Review = "review",
        Embedding = "embedding",
    }
);

vocabulary!(
    /// How sensitive the data the AI touched was.
    DataClass default Internal {
        Public = "public",
        Internal = "internal",
        Confidential = "confidential",
        Restricted = "restricted",
    }
);

vocabulary!(
    /// The acceptable-use domain of the work.
    Domain {
        Green = "green",
        Yellow = "yellow",
        Red = "red",
    }
);

vocabulary!(
    /// Where the AI tool ran.
    Client {
        Ide = "ide",
        Cli = "cli",
        Web = "web",
        Ci = "ci",
    }
);

vocabulary!(
    /// What a `code_change` event records.
    ChangeKind {
        PullRequest = "pull_request",
        Commit = "commit",
        Deployment = "deployment",
    }
);

vocabulary!(
    /// How bad an incident was, `sev1` the worst.
    Severity {
        Sev1 = "sev1",
        Sev2 = "sev2",
        Sev3 = "sev3",
        Sev4 = "sev4",
    }
);
