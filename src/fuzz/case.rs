//! One fuzz case: the messages a call sends and its metadata, readable as text.

use std::{fmt, sync::Arc};

use proptest::{collection::vec, prelude::*, strategy::Union};
use prost_reflect::{DynamicMessage, MethodDescriptor, text_format::FormatOptions};

use super::generate::Generator;

/// The request side of one generated call.
#[derive(Clone)]
pub(crate) struct Case {
    /// The messages sent: exactly one unless the client streams.
    pub(crate) messages: Vec<Arc<DynamicMessage>>,
    /// The metadata sent besides what tonic adds.
    pub(crate) metadata: Vec<(String, String)>,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let messages: Vec<String> = self.messages.iter().map(|message| text(message)).collect();
        f.debug_struct("Case")
            .field("messages", &messages)
            .field("metadata", &self.metadata)
            .finish()
    }
}

/// `message` in protobuf's text format, on one line: `text: "a" address { city: "b" }`.
pub(crate) fn text(message: &DynamicMessage) -> String {
    let pretty = message.to_text_format_with_options(&FormatOptions::new().pretty(true));
    let lines: Vec<&str> = pretty.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    lines.join(" ")
}

/// The cases of `method`: one message, or for a client stream none to many; each metadata key
/// absent or set to an odd value.
pub(crate) fn strategy(
    method: &MethodDescriptor,
    depth: u32,
    metadata: &[String],
) -> BoxedStrategy<Case> {
    let mut generator = Generator::new(&method.input(), depth);
    let message = generator.top(&method.input()).prop_map(Arc::new).boxed();
    let messages = match method.is_client_streaming() {
        true => prop_oneof![4 => vec(message.clone(), 0..=3), 1 => vec(message, 4..=16)].boxed(),
        false => message.prop_map(|message| vec![message]).boxed(),
    };
    let values: Vec<BoxedStrategy<Option<(String, String)>>> = metadata
        .iter()
        .map(|key| {
            let key = key.clone();
            prop_oneof![
                Just(None),
                metadata_value().prop_map(move |value| Some((key.clone(), value)))
            ]
            .boxed()
        })
        .collect();
    (messages, values)
        .prop_map(|(messages, values)| Case {
            messages,
            metadata: values.into_iter().flatten().collect(),
        })
        .boxed()
}

/// An ASCII metadata value: empty, short, long, or made of the punctuation parsers trip on.
/// Visible characters only, with none at either end blank, as HTTP/2 requires.
fn metadata_value() -> BoxedStrategy<String> {
    Union::new([
        Just(String::new()).boxed(),
        "[a-z0-9]{1,12}".boxed(),
        "[!-~]([ -~]{0,30}[!-~])?".boxed(),
        Just("0".to_owned()).boxed(),
        Just("-1".to_owned()).boxed(),
        Just("x".repeat(1_000)).boxed(),
    ])
    .boxed()
}
