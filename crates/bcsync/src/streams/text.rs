//! Records read straight from the JSON text they arrived as, without a tree of values.
//!
//! A page of 250 orders with their lines is about 2 MB of JSON; parsed into
//! `serde_json::Value` trees it became some 25 MB of small allocations, built, cloned into
//! child rows, written back out for `_raw` and freed, which was most of the CPU an order
//! cost (docs/BENCHMARKS.md). A [`TextRecord`] is only the record's top-level fields, each
//! name beside the span of text that holds its value: the SQLite writer binds scalars from
//! those spans, stores nested values as the text that arrived, and finds child rows (order
//! lines, addresses, variants) as spans of the parent's text.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

/// One JSON object's top-level fields, in the order they arrived, each value the text it
/// arrived as. A name given twice keeps its first place and its last value, as a parsed
/// `Value` does.
#[derive(Debug, Clone, Default)]
pub struct TextRecord<'a> {
    fields: Vec<(Cow<'a, str>, &'a RawValue)>,
}

/// A field value, classified by its first byte: what a column is bound to.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    Null,
    Bool(bool),
    Integer(i64),
    Real(f64),
    Text(Cow<'a, str>),
    /// An object or an array: the JSON text as it arrived.
    Nested(&'a str),
}

impl<'a> TextRecord<'a> {
    /// Reads the top-level fields of the JSON object in `text`.
    pub fn parse(text: &'a str) -> serde_json::Result<Self> {
        let mut de = serde_json::Deserializer::from_str(text);
        let record = de.deserialize_map(RecordVisitor)?;
        de.end()?;
        Ok(record)
    }

    /// [`TextRecord::parse`] of a value already split out of a page.
    pub fn of(raw: &'a RawValue) -> serde_json::Result<Self> {
        Self::parse(raw.get())
    }

    pub fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }

    /// Sets a field: in place if the record has it, else last (a `Value` map's insert).
    pub fn set(&mut self, name: &'a str, value: &'a RawValue) {
        match self.fields.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((Cow::Borrowed(name), value)),
        }
    }

    /// The record without one field.
    pub fn without(&self, name: &str) -> Self {
        Self {
            fields: self
                .fields
                .iter()
                .filter(|(k, _)| k != name)
                .cloned()
                .collect(),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &'a RawValue)> + '_ {
        self.fields.iter().map(|(k, v)| (k.as_ref(), *v))
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The record as compact JSON, its values as they arrived.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (k, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_json_string(out, k);
            out.push(b':');
            out.extend_from_slice(v.get().as_bytes());
        }
        out.push(b'}');
    }

    /// An integer key field (`id`), as a number or a numeric string.
    pub fn integer(&self, name: &str) -> Option<i64> {
        match scalar(self.get(name)?) {
            Scalar::Integer(i) => Some(i),
            Scalar::Text(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// A string field.
    pub fn text(&self, name: &str) -> Option<Cow<'a, str>> {
        match scalar(self.get(name)?) {
            Scalar::Text(s) => Some(s),
            _ => None,
        }
    }

    /// A field parsed into a `Value`, for the few places that want a small one (a channel
    /// id, a list of them).
    pub fn value(&self, name: &str) -> Option<Value> {
        self.get(name)
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
    }
}

/// What a value's text holds. Strings without escapes are borrowed from the text.
pub fn scalar(raw: &RawValue) -> Scalar<'_> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => {
            let inner = &text[1..text.len() - 1];
            if inner.contains('\\') {
                match serde_json::from_str::<String>(text) {
                    Ok(s) => Scalar::Text(Cow::Owned(s)),
                    Err(_) => Scalar::Nested(text),
                }
            } else {
                Scalar::Text(Cow::Borrowed(inner))
            }
        }
        Some(b't') => Scalar::Bool(true),
        Some(b'f') => Scalar::Bool(false),
        Some(b'n') => Scalar::Null,
        Some(b'{' | b'[') => Scalar::Nested(text),
        // A number: an integer if it reads as an i64, as a `Value` keeps it; else a float
        // (a fraction, an exponent, or beyond i64).
        _ => match text.parse::<i64>() {
            Ok(i) => Scalar::Integer(i),
            Err(_) => text
                .parse::<f64>()
                .map_or(Scalar::Nested(text), Scalar::Real),
        },
    }
}

/// The objects of a JSON array's text, each read as a record, in one pass; `None` if it is
/// not an array or holds something other than objects.
pub fn records(raw: &RawValue) -> Option<Vec<TextRecord<'_>>> {
    if !raw.get().starts_with('[') {
        return None;
    }
    let elements: Vec<Element<'_>> = serde_json::from_str(raw.get()).ok()?;
    elements.into_iter().map(|e| e.0).collect()
}

/// The objects of every array under the key `name` anywhere in `raw` (not inside another
/// such array), in document order, read as records in one pass over the text; `None` if
/// one of those arrays holds something other than objects.
pub fn records_named<'a>(raw: &'a RawValue, name: &str) -> Option<Vec<TextRecord<'a>>> {
    let mut out = Vec::new();
    let mut all_objects = true;
    let mut de = serde_json::Deserializer::from_str(raw.get());
    FindRecords {
        name,
        out: &mut out,
        all_objects: &mut all_objects,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()?;
    all_objects.then_some(out)
}

fn write_json_string(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Cannot fail: a string always serialises.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = TextRecord<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut record = TextRecord {
            fields: Vec::with_capacity(map.size_hint().unwrap_or(32)),
        };
        while let Some(Key(name)) = map.next_key()? {
            let value: &'de RawValue = map.next_value()?;
            match record.fields.iter_mut().find(|(k, _)| *k == name) {
                Some(slot) => slot.1 = value,
                None => record.fields.push((name, value)),
            }
        }
        Ok(record)
    }
}

/// An object key, borrowed from the text unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// An array element: a record if it is an object.
struct Element<'a>(Option<TextRecord<'a>>);

impl<'de> de::Deserialize<'de> for Element<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ElementVisitor)
    }
}

struct ElementVisitor;

impl<'de> Visitor<'de> for ElementVisitor {
    type Value = Element<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        RecordVisitor.visit_map(map).map(|r| Element(Some(r)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Element(None))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Element(None))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Element(None))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Element(None))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Element(None))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Element(None))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Element(None))
    }
}

/// Walks any JSON value, reading the objects of the arrays under one key name as records.
struct FindRecords<'o, 'a> {
    name: &'o str,
    out: &'o mut Vec<TextRecord<'a>>,
    all_objects: &'o mut bool,
}

impl<'a> FindRecords<'_, 'a> {
    fn again(&mut self) -> FindRecords<'_, 'a> {
        FindRecords {
            name: self.name,
            out: &mut *self.out,
            all_objects: &mut *self.all_objects,
        }
    }
}

impl<'de> DeserializeSeed<'de> for FindRecords<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// The value under the key being looked for: an array's objects are taken; anything else
/// is walked like any other value.
struct Found<'o, 'a>(FindRecords<'o, 'a>);

impl<'de> DeserializeSeed<'de> for Found<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Found<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(Element(record)) = seq.next_element()? {
            match record {
                Some(r) => self.0.out.push(r),
                None => *self.0.all_objects = false,
            }
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        self.0.visit_map(map)
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

impl<'de> Visitor<'de> for FindRecords<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(key)) = map.next_key()? {
            if key == self.name {
                map.next_value_seed(Found(self.again()))?;
            } else {
                map.next_value_seed(self.again())?;
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self.again())?.is_some() {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}
