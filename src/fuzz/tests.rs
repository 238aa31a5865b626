//! What the strategies generate: every kind of field at its edges, over many cases of the
//! shapes service's message, which has every kind protobuf has.

use std::{collections::BTreeSet, sync::LazyLock};

use proptest::{
    strategy::{Strategy, ValueTree},
    test_runner::TestRunner,
};
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, ReflectMessage, Value};
use tonic_testkit_support::shapes::{Everything, SHAPES_DESCRIPTOR_SET};

use super::{DEFAULT_DEPTH, case, dynamic_message, message};

const CASES: usize = 1_000;

/// The samples every test here reads, generated once.
static SAMPLES: LazyLock<Vec<DynamicMessage>> = LazyLock::new(|| {
    let strategy = dynamic_message(&everything());
    let mut runner = TestRunner::deterministic();
    (0..CASES).map(|_| strategy.new_tree(&mut runner).unwrap().current()).collect()
});

fn everything() -> MessageDescriptor {
    let pool = DescriptorPool::decode(SHAPES_DESCRIPTOR_SET).unwrap();
    pool.get_message_by_name("shapes.Everything").unwrap()
}

fn samples() -> &'static [DynamicMessage] {
    &SAMPLES
}

/// The values `field` took over the samples, as text; `unset` where a field with presence
/// was not set (one without presence reads as its default value).
fn seen(samples: &[DynamicMessage], field: &str) -> BTreeSet<String> {
    let values = samples.iter().map(|sample| {
        let presence = sample.descriptor().get_field_by_name(field).unwrap().supports_presence();
        match presence && !sample.has_field_by_name(field) {
            true => "unset".to_owned(),
            false => shown(&sample.get_field_by_name(field).unwrap()),
        }
    });
    values.collect()
}

fn shown(value: &Value) -> String {
    match value {
        Value::String(text) if text.len() > 64 => format!("long {}", text.len()),
        Value::Bytes(bytes) if bytes.len() > 64 => format!("long {}", bytes.len()),
        Value::List(list) => format!("list {}", list.len().min(5)),
        Value::Map(map) => format!("map {}", map.len().min(5)),
        Value::Message(message) => format!("message {}", message.descriptor().name()),
        other => format!("{other:?}"),
    }
}

fn assert_seen(samples: &[DynamicMessage], field: &str, expected: &[&str]) {
    let seen = seen(samples, field);
    let missing: Vec<&&str> = expected.iter().filter(|value| !seen.contains(**value)).collect();
    assert!(missing.is_empty(), "{field} never took {missing:?}; it took {seen:?}");
}

#[test]
fn every_scalar_type_takes_its_edge_values() {
    let samples = samples();

    assert_seen(
        samples,
        "f_int32",
        &["I32(0)", "I32(1)", "I32(-1)", "I32(-2147483648)", "I32(2147483647)"],
    );
    assert_seen(
        samples,
        "f_sint64",
        &["I64(-9223372036854775808)", "I64(9223372036854775807)", "I64(9007199254740992)"],
    );
    assert_seen(samples, "f_uint32", &["U32(4294967295)", "U32(2147483648)"]);
    assert_seen(samples, "f_fixed64", &["U64(18446744073709551615)"]);
    assert_seen(
        samples,
        "f_double",
        &["F64(NaN)", "F64(inf)", "F64(-inf)", "F64(-0.0)", "F64(1.7976931348623157e308)"],
    );
    assert_seen(samples, "f_float", &["F32(NaN)", "F32(inf)", "F32(-0.0)"]);
    assert_seen(samples, "f_bool", &["Bool(true)", "Bool(false)"]);
}

#[test]
fn strings_and_bytes_are_empty_long_and_not_ascii() {
    let samples = samples();

    assert_seen(
        samples,
        "f_string",
        &[
            "String(\"\")",
            "String(\"é\")",
            "String(\"\\0\")",
            "String(\"\\u{202e}txet\")",
            "long 1000",
            "long 65536",
            "long 1048576",
        ],
    );
    assert_seen(samples, "f_bytes", &["Bytes(b\"\")", "long 1000", "long 1048576"]);
    let any_text = seen(samples, "f_string").into_iter().filter(|text| !text.is_ascii()).count();
    assert!(any_text > 10, "only {any_text} strings were not ASCII");
}

#[test]
fn enums_take_each_named_value_and_numbers_the_schema_does_not_name() {
    let samples = samples();

    assert_seen(
        samples,
        "color",
        &[
            "EnumNumber(0)",
            "EnumNumber(1)",
            "EnumNumber(2)",
            "EnumNumber(3)",
            "EnumNumber(-1)",
            "EnumNumber(2147483647)",
        ],
    );
}

#[test]
fn presence_oneofs_lists_and_maps_take_every_shape() {
    let samples = samples();

    // An optional field is left unset, or set, its default value included.
    assert_seen(samples, "maybe", &["unset", "I32(0)", "I32(-1)"]);
    // A oneof takes each arm, and none.
    let arms: BTreeSet<Option<String>> = samples
        .iter()
        .map(|sample| {
            ["name", "number", "tree"]
                .into_iter()
                .find(|arm| sample.has_field_by_name(arm))
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        arms,
        [None, Some("name".into()), Some("number".into()), Some("tree".into())].into()
    );
    assert_seen(samples, "numbers", &["list 0", "list 1", "list 5"]);
    assert_seen(samples, "counts", &["map 0", "map 1", "map 5"]);
    assert_seen(samples, "forest", &["map 0", "map 1", "map 5"]);
    assert_seen(samples, "colors", &["list 0", "list 1", "list 5"]);
}

/// How many levels of `Tree` hang below `tree`.
fn depth(tree: &DynamicMessage) -> u32 {
    let below = ["children", "parent"].into_iter().flat_map(|field| {
        match tree.get_field_by_name(field).as_deref() {
            Some(Value::List(children)) => {
                children.iter().filter_map(Value::as_message).map(depth).collect()
            }
            Some(Value::Message(parent)) if tree.has_field_by_name(field) => vec![depth(parent)],
            _ => vec![],
        }
    });
    below.map(|levels| levels + 1).max().unwrap_or(0)
}

#[test]
fn recursive_messages_stop_at_the_depth() {
    let samples = samples();

    let depths: BTreeSet<u32> = samples
        .iter()
        .filter(|sample| sample.has_field_by_name("root"))
        .map(|sample| depth(sample.get_field_by_name("root").unwrap().as_message().unwrap()))
        .collect();

    // `root` sits one level below the request, so its trees go two more levels down at most.
    assert_eq!(depths, (0..DEFAULT_DEPTH).collect());
}

#[test]
fn well_known_types_take_their_edges() {
    let samples = samples();
    let field = |sample: &DynamicMessage, message: &str, field: &str| {
        let message = sample.get_field_by_name(message).unwrap();
        shown(&message.as_message().unwrap().get_field_by_name(field).unwrap())
    };
    let all = |message: &str, name: &str| -> BTreeSet<String> {
        let set = samples.iter().filter(|sample| sample.has_field_by_name(message));
        set.map(|sample| field(sample, message, name)).collect()
    };

    let seconds = all("at", "seconds");
    for edge in ["I64(0)", "I64(-62135596800)", "I64(253402300799)", "I64(-9223372036854775808)"] {
        assert!(seconds.contains(edge), "Timestamp.seconds never took {edge}");
    }
    let nanos = all("took", "nanos");
    for edge in ["I32(0)", "I32(999999999)", "I32(-999999999)"] {
        assert!(nanos.contains(edge), "Duration.nanos never took {edge}");
    }
    let urls = all("extra", "type_url");
    for url in [
        "String(\"\")",
        "String(\"type.googleapis.com/shapes.Everything\")",
        "String(\"type.googleapis.com/shapes.Tree\")",
        "String(\"type.googleapis.com/unknown.Type\")",
    ] {
        assert!(urls.contains(url), "Any.type_url never took {url}: {urls:?}");
    }
    assert_seen(samples, "doc", &["unset", "message Struct"]);
    assert_seen(samples, "wrapped", &["unset", "message Int32Value"]);
    assert_seen(samples, "mask", &["message FieldMask"]);
}

#[test]
fn a_packed_any_holds_a_message_of_its_type() {
    let samples = samples();

    let packed =
        samples.iter().filter_map(|sample| sample.get_field_by_name("extra")).find_map(|any| {
            let any = any.as_message()?.clone();
            let url = any.get_field_by_name("type_url")?.as_str()?.to_owned();
            (url == "type.googleapis.com/shapes.Tree").then_some(any)
        });

    let any = packed.expect("an Any holding a Tree");
    let value = any.get_field_by_name("value").unwrap();
    let pool = DescriptorPool::decode(SHAPES_DESCRIPTOR_SET).unwrap();
    let tree = pool.get_message_by_name("shapes.Tree").unwrap();
    DynamicMessage::decode(tree, value.as_bytes().unwrap().clone())
        .expect("the value decodes as a Tree");
}

#[test]
fn a_client_stream_sends_none_one_or_many() {
    let pool = DescriptorPool::decode(SHAPES_DESCRIPTOR_SET).unwrap();
    let method = pool
        .get_service_by_name("shapes.Shapes")
        .unwrap()
        .methods()
        .find(|m| m.name() == "EchoEach")
        .unwrap();
    let strategy = case::strategy(&method, 1, &[]);
    let mut runner = TestRunner::deterministic();

    let lengths: BTreeSet<usize> = (0..500)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current().messages.len())
        .collect();

    assert_eq!(lengths, (0..=16).collect());
}

#[test]
fn the_typed_strategy_decodes_as_the_rust_type() {
    let strategy = message::<Everything>(SHAPES_DESCRIPTOR_SET);
    let mut runner = TestRunner::deterministic();

    let colors: BTreeSet<i32> =
        (0..300).map(|_| strategy.new_tree(&mut runner).unwrap().current().color).collect();

    assert!(colors.contains(&0) && colors.contains(&-1) && colors.contains(&3), "{colors:?}");
}

#[test]
fn the_typed_strategy_refuses_a_type_the_descriptors_do_not_have() {
    let refused = std::panic::catch_unwind(|| {
        message::<tonic_testkit_support::ProbeRequest>(SHAPES_DESCRIPTOR_SET)
    });

    let text = *refused.unwrap_err().downcast::<String>().unwrap();
    assert_eq!(
        text,
        "fuzz::message::<tonic_testkit_support::generated::ProbeRequest>: the descriptors have no \
         message named ProbeRequest; give the set that describes it"
    );
}
