//! Strategies that build well-formed, odd messages from their descriptors.
//!
//! Every alternative list starts with the plainest value (unset, zero, empty), so proptest's
//! shrinking walks a failing case back towards it and keeps only what the failure needs.

use std::collections::HashMap;

use bytes::Bytes;
use proptest::{
    collection::{hash_map, vec},
    prelude::*,
    sample::select,
    strategy::{NewTree, Union},
    test_runner::TestRunner,
};
use prost_reflect::{
    DynamicMessage, EnumDescriptor, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value,
};

/// How many messages deep a generated message goes: a message field at this depth is left
/// unset, which bounds recursive messages.
pub const DEFAULT_DEPTH: u32 = 3;

/// The longest string or bytes value generated: 1 MiB, a quarter of tonic's default limit on a
/// decoded message.
const LONG: usize = 1 << 20;

/// A field and the value it is set to.
type Set = Option<(FieldDescriptor, Value)>;

/// Builds strategies, each message's once per depth.
pub(crate) struct Generator {
    depth: u32,
    built: HashMap<(String, u32), BoxedStrategy<DynamicMessage>>,
    /// The messages an `Any` may hold: the pool's own, plain ones.
    packable: Vec<MessageDescriptor>,
}

impl Generator {
    pub(crate) fn new(pool_of: &MessageDescriptor, depth: u32) -> Self {
        let mut packable: Vec<MessageDescriptor> = pool_of
            .parent_pool()
            .all_messages()
            .filter(|message| {
                !message.is_map_entry() && !message.full_name().starts_with("google.protobuf.")
            })
            .collect();
        packable.sort_by(|a, b| a.full_name().cmp(b.full_name()));
        packable.truncate(8);
        Self { depth, built: HashMap::new(), packable }
    }

    /// The strategy for `descriptor` at the top level.
    pub(crate) fn top(&mut self, descriptor: &MessageDescriptor) -> BoxedStrategy<DynamicMessage> {
        self.message(descriptor, self.depth)
    }

    /// The strategy for `descriptor` with `depth` levels of nested messages left below it.
    fn message(
        &mut self,
        descriptor: &MessageDescriptor,
        depth: u32,
    ) -> BoxedStrategy<DynamicMessage> {
        let key = (descriptor.full_name().to_owned(), depth);
        if let Some(built) = self.built.get(&key) {
            return built.clone();
        }
        let strategy = match descriptor.full_name() {
            "google.protobuf.Timestamp" => timestamp(descriptor),
            "google.protobuf.Duration" => duration(descriptor),
            "google.protobuf.Any" => self.any(descriptor, depth),
            _ => self.fields(descriptor, depth),
        };
        self.built.insert(key, strategy.clone());
        strategy
    }

    /// Each field on its own, and each oneof as one choice among its fields and none.
    fn fields(
        &mut self,
        descriptor: &MessageDescriptor,
        depth: u32,
    ) -> BoxedStrategy<DynamicMessage> {
        let mut parts: Vec<BoxedStrategy<Set>> = Vec::new();
        for field in descriptor.fields() {
            match field.containing_oneof() {
                // A real oneof is generated as a whole, at its first field.
                Some(oneof) if !oneof.is_synthetic() => {
                    if oneof.fields().next().is_some_and(|first| first.number() == field.number()) {
                        let mut arms = vec![Just(None).boxed()];
                        for arm in oneof.fields() {
                            if let Some(value) = self.singular(&arm, depth) {
                                let arm = arm.clone();
                                arms.push(
                                    value.prop_map(move |value| Some((arm.clone(), value))).boxed(),
                                );
                            }
                        }
                        parts.push(Union::new(arms).boxed());
                    }
                }
                _ => parts.push(self.field(&field, depth)),
            }
        }
        let descriptor = descriptor.clone();
        parts
            .prop_map(move |sets| {
                let mut message = DynamicMessage::new(descriptor.clone());
                for (field, value) in sets.into_iter().flatten() {
                    message.set_field(&field, value);
                }
                message
            })
            .boxed()
    }

    /// One field outside a real oneof: a list, a map, or one value (left unset where the field
    /// has presence).
    fn field(&mut self, field: &FieldDescriptor, depth: u32) -> BoxedStrategy<Set> {
        let set = field.clone();
        let set = move |value| Some((set.clone(), value));
        if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                unreachable!("a map field's kind is its entry")
            };
            let (key_field, value_field) =
                (entry.map_entry_key_field(), entry.map_entry_value_field());
            let Some(value) = self.element(&value_field, depth) else { return Just(None).boxed() };
            let key = map_key(&key_field.kind());
            let entries = |size| hash_map(key.clone(), value.clone(), size);
            let map = prop_oneof![4 => entries(0..=3), 1 => entries(4..=16)];
            return map.prop_map(move |map| set(Value::Map(map))).boxed();
        }
        if field.is_list() {
            let Some(element) = self.element(field, depth) else { return Just(None).boxed() };
            let many = match field.kind() {
                Kind::Message(_) => 4..=4,
                _ => 4..=32,
            };
            let list = prop_oneof![4 => vec(element.clone(), 0..=3), 1 => vec(element, many)];
            return list.prop_map(move |list| set(Value::List(list))).boxed();
        }
        let Some(value) = self.singular(field, depth) else { return Just(None).boxed() };
        match field.supports_presence() {
            true => prop_oneof![Just(None), value.prop_map(set)].boxed(),
            false => value.prop_map(set).boxed(),
        }
    }

    /// A value of a list or map: short, so that a list of them stays small; `None` for a
    /// message below the last level.
    fn element(&mut self, field: &FieldDescriptor, depth: u32) -> Option<BoxedStrategy<Value>> {
        self.value(&field.kind(), depth, false)
    }

    /// The value of one singular field, `None` for a message field below the last level.
    fn singular(&mut self, field: &FieldDescriptor, depth: u32) -> Option<BoxedStrategy<Value>> {
        self.value(&field.kind(), depth, true)
    }

    fn value(&mut self, kind: &Kind, depth: u32, long: bool) -> Option<BoxedStrategy<Value>> {
        Some(match kind {
            Kind::Double => double().prop_map(Value::F64).boxed(),
            Kind::Float => float().prop_map(Value::F32).boxed(),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => int32().prop_map(Value::I32).boxed(),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => int64().prop_map(Value::I64).boxed(),
            Kind::Uint32 | Kind::Fixed32 => uint32().prop_map(Value::U32).boxed(),
            Kind::Uint64 | Kind::Fixed64 => uint64().prop_map(Value::U64).boxed(),
            Kind::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
            Kind::String => string(long).prop_map(Value::String).boxed(),
            Kind::Bytes => bytes(long).prop_map(Value::Bytes).boxed(),
            Kind::Enum(descriptor) => enumeration(descriptor).prop_map(Value::EnumNumber).boxed(),
            Kind::Message(_) if depth == 0 => return None,
            Kind::Message(message) => {
                self.message(message, depth - 1).prop_map(Value::Message).boxed()
            }
        })
    }

    /// An `Any`: empty, holding a message of the pool (encoded as its type URL says), or naming
    /// a type nobody knows.
    fn any(&mut self, descriptor: &MessageDescriptor, depth: u32) -> BoxedStrategy<DynamicMessage> {
        let mut arms = vec![Just((String::new(), Bytes::new())).boxed()];
        if depth > 0 {
            for packed in self.packable.clone() {
                let url = format!("type.googleapis.com/{}", packed.full_name());
                let message = self.message(&packed, depth - 1);
                arms.push(
                    message
                        .prop_map(move |message| (url.clone(), message.encode_to_vec().into()))
                        .boxed(),
                );
            }
        }
        let unknown =
            bytes(false).prop_map(|value| ("type.googleapis.com/unknown.Type".to_owned(), value));
        arms.push(unknown.boxed());
        let descriptor = descriptor.clone();
        Union::new(arms)
            .prop_map(move |(url, value)| {
                let mut any = DynamicMessage::new(descriptor.clone());
                any.set_field_by_name("type_url", Value::String(url));
                any.set_field_by_name("value", Value::Bytes(value));
                any
            })
            .boxed()
    }
}

use prost::Message as _;

/// A `Timestamp`: the epoch, the ends of the range RFC 3339 can write (years 1 to 9999), and
/// values past them that a conversion must refuse.
fn timestamp(descriptor: &MessageDescriptor) -> BoxedStrategy<DynamicMessage> {
    let seconds = prop_oneof![
        Just(0i64),
        Just(-1),
        Just(-62_135_596_800),
        Just(253_402_300_799),
        -62_135_596_800i64..=253_402_300_799,
        Just(i64::MIN),
        Just(i64::MAX),
    ];
    let nanos =
        prop_oneof![Just(0i32), Just(999_999_999), 0..1_000_000_000, Just(-1), Just(1_000_000_000)];
    seconds_and_nanos(descriptor, seconds.boxed(), nanos.boxed())
}

/// A `Duration`: zero, the ends of its range (about 10,000 years either way), negative ones,
/// and values past the range or with mismatched signs that a conversion must refuse.
fn duration(descriptor: &MessageDescriptor) -> BoxedStrategy<DynamicMessage> {
    let seconds = prop_oneof![
        Just(0i64),
        Just(-1),
        Just(1),
        Just(-315_576_000_000),
        Just(315_576_000_000),
        -315_576_000_000i64..=315_576_000_000,
        Just(i64::MIN),
        Just(i64::MAX),
    ];
    let nanos = prop_oneof![
        Just(0i32),
        Just(999_999_999),
        Just(-999_999_999),
        -999_999_999..=999_999_999,
        Just(i32::MIN)
    ];
    seconds_and_nanos(descriptor, seconds.boxed(), nanos.boxed())
}

fn seconds_and_nanos(
    descriptor: &MessageDescriptor,
    seconds: BoxedStrategy<i64>,
    nanos: BoxedStrategy<i32>,
) -> BoxedStrategy<DynamicMessage> {
    let descriptor = descriptor.clone();
    (seconds, nanos)
        .prop_map(move |(seconds, nanos)| {
            let mut message = DynamicMessage::new(descriptor.clone());
            message.set_field_by_name("seconds", Value::I64(seconds));
            message.set_field_by_name("nanos", Value::I32(nanos));
            message
        })
        .boxed()
}

/// An integer strategy: an edge value a third of the time, a small one a third, any one the
/// rest; shrunk by halving towards zero, so a failure past a bound shrinks to the bound.
#[derive(Debug)]
struct Edgy<T: 'static> {
    edges: &'static [T],
    small: std::ops::RangeInclusive<T>,
}

macro_rules! edgy {
    ($name:ident, $type:ident, $edges:expr, $small:expr) => {
        fn $name() -> Edgy<$type> {
            Edgy { edges: &$edges, small: $small }
        }

        impl Strategy for Edgy<$type> {
            type Tree = proptest::num::$type::BinarySearch;
            type Value = $type;

            fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
                let rng = runner.rng();
                let value = match rng.random_range(0..3u8) {
                    0 => self.edges[rng.random_range(0..self.edges.len())],
                    1 => rng.random_range(self.small.clone()),
                    _ => rng.random(),
                };
                Ok(proptest::num::$type::BinarySearch::new(value))
            }
        }
    };
}

edgy!(int32, i32, [0, 1, -1, i32::MIN, i32::MAX], -16..=16);
// 2^53 and past: what a double holds exactly no longer, which JSON clients lose.
edgy!(
    int64,
    i64,
    [0, 1, -1, i64::MIN, i64::MAX, 1 << 53, (1 << 53) + 1, i32::MAX as i64 + 1],
    -16..=16
);
edgy!(uint32, u32, [0, 1, u32::MAX, i32::MAX as u32 + 1], 0..=16);
edgy!(uint64, u64, [0, 1, u64::MAX, i64::MAX as u64 + 1, 1 << 53], 0..=16);

fn double() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(-0.0),
        Just(1.0),
        Just(-1.0),
        Just(f64::MIN),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        Just(f64::EPSILON),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        any::<f64>(),
    ]
}

fn float() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(0.0),
        Just(-0.0),
        Just(1.0),
        Just(-1.0),
        Just(f32::MIN),
        Just(f32::MAX),
        Just(f32::MIN_POSITIVE),
        Just(f32::NAN),
        Just(f32::INFINITY),
        Just(f32::NEG_INFINITY),
        any::<f32>(),
    ]
}

/// Strings: empty, short ASCII, control characters (NUL, blanks), the characters that break
/// naive text handling (multi-byte, a lone combining mark, a right-to-left override), any Unicode, and,
/// for a singular field, long ones up to 1 MiB.
fn string(long: bool) -> BoxedStrategy<String> {
    // Each group shrinks towards its first entry.
    let control = select(["\0", " \t\r\n"].map(str::to_owned).to_vec());
    let non_ascii =
        select(["é", "\u{301}", "🦀", "日本語", "\u{202e}txet"].map(str::to_owned).to_vec());
    let arms = vec![
        Just(String::new()).boxed(),
        "[a-z0-9]{1,12}".boxed(),
        control.boxed(),
        non_ascii.boxed(),
        any::<String>().boxed(),
    ];
    let mut arms: Vec<(u32, BoxedStrategy<String>)> =
        arms.into_iter().map(|arm| (4, arm)).collect();
    if long {
        arms.push((1, long_length().prop_map(|length| "x".repeat(length)).boxed()));
    }
    Union::new_weighted(arms).boxed()
}

/// Bytes: empty, a few of any value, all ones, and, for a singular field, long ones up to 1 MiB.
fn bytes(long: bool) -> BoxedStrategy<Bytes> {
    let arms = vec![
        Just(Bytes::new()).boxed(),
        vec(any::<u8>(), 1..=16).prop_map(Bytes::from).boxed(),
        Just(Bytes::from_static(&[0xFF; 8])).boxed(),
    ];
    let mut arms: Vec<(u32, BoxedStrategy<Bytes>)> = arms.into_iter().map(|arm| (4, arm)).collect();
    if long {
        arms.push((1, long_length().prop_map(|length| Bytes::from(vec![0u8; length])).boxed()));
    }
    Union::new_weighted(arms).boxed()
}

/// The length of a long string or bytes value: rarely the longest, so that a message with
/// several of them mostly stays under tonic's 4 MiB limit.
fn long_length() -> impl Strategy<Value = usize> {
    prop_oneof![2 => Just(1_000usize), 2 => Just(65_536), 1 => Just(LONG)]
}

/// An enum value: each value the schema names (the default first), then numbers it does not
/// name, which proto3 receivers must keep.
fn enumeration(descriptor: &EnumDescriptor) -> BoxedStrategy<i32> {
    let mut named: Vec<i32> = descriptor.values().map(|value| value.number()).collect();
    let default = descriptor.default_value().number();
    named.sort_by_key(|number| (*number != default, *number));
    named.dedup();
    let highest = named.iter().copied().max().unwrap_or(0);
    let mut arms: Vec<BoxedStrategy<i32>> =
        named.into_iter().map(|number| Just(number).boxed()).collect();
    for unnamed in [highest.saturating_add(1), -1, i32::MIN, i32::MAX] {
        if descriptor.get_value(unnamed).is_none() {
            arms.push(Just(unnamed).boxed());
        }
    }
    Union::new(arms).boxed()
}

/// A map key of `kind` (protobuf allows integers, booleans and strings).
fn map_key(kind: &Kind) -> BoxedStrategy<MapKey> {
    match kind {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => int32().prop_map(MapKey::I32).boxed(),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => int64().prop_map(MapKey::I64).boxed(),
        Kind::Uint32 | Kind::Fixed32 => uint32().prop_map(MapKey::U32).boxed(),
        Kind::Uint64 | Kind::Fixed64 => uint64().prop_map(MapKey::U64).boxed(),
        Kind::Bool => any::<bool>().prop_map(MapKey::Bool).boxed(),
        _ => string(false).prop_map(MapKey::String).boxed(),
    }
}
