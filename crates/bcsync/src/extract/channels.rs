//! Channel filtering (`bcsync extract --channel ID`, `channels = [...]` in `[extract]`):
//! restricts extraction to one or more storefronts of a multi-storefront store
//! (docs/api-notes.md §10, §10.1).
//!
//! Each stream uses the filter its list offers; where the list has none but the records
//! name their channel, the records are filtered here, after they are read (the bookmark
//! still advances over every record read, so the keyset stays exact). Child tables follow
//! their parents (order lines come inside the orders kept, variants inside the products
//! kept). Streams whose records belong to no channel are read whole, and the run says so
//! once on stderr ([`unfiltered`]).
//!
//! The saved state of a filtered incremental stream records the channel set it was read
//! with; a run with another set reads that stream whole again ([`rebase_state`]), so its
//! complete read marks the rows of channels no longer chosen deleted.

use bigcommerce::Client;
use futures::TryStreamExt;
use serde_json::Value;

use super::ReadRecord;
use crate::error::Result;
use crate::state::StreamState;
use crate::streams::StreamDescriptor;

/// How each stream is restricted to the chosen channels, as `bcsync extract` applies it
/// (the README's table says the same). Streams not listed are read whole.
pub const FILTERS: &[(&str, &str)] = &[
    (
        "channels",
        "only the chosen channels (kept locally: the list has no id filter)",
    ),
    (
        "customers",
        "customers whose `channel_ids` include a chosen channel, or are null (every channel); \
         kept locally: the customers list has no channel filter",
    ),
    (
        "products",
        "`channel_id:in` (the products assigned to a chosen channel); variants, images and \
         custom fields follow their product",
    ),
    ("category_trees", "`channel_id:in` (one tree per channel)"),
    (
        "categories",
        "`tree_id:in` with the trees of the chosen channels (one more request to list them)",
    ),
    (
        "orders",
        "`channel_id` for one channel; for several, kept locally by `channel_id`; lines and \
         shipping addresses follow their order",
    ),
    (
        "transactions",
        "those of the orders kept (the order list is filtered as for orders)",
    ),
    (
        "pages",
        "`channel_id` for one channel; for several, kept locally by `channel_id`",
    ),
    (
        "subscribers",
        "kept locally by `channel_id` (the origin channel; the list has no channel filter)",
    ),
];

/// How a filtered stream is described in [`FILTERS`], or `None` when it is read whole.
pub fn filtering(stream: &str) -> Option<&'static str> {
    FILTERS
        .iter()
        .find(|(s, _)| *s == stream)
        .map(|(_, how)| *how)
}

/// The selected streams that no channel filter applies to (read whole even with
/// `--channel`): brands, coupons, customer groups and the store carry no channel;
/// refunds, inventory (not per channel) and metafields have no channel on the record or
/// the list; promotions have a `channels` filter whose form for several ids is not
/// documented, so they are read whole rather than guessed at.
pub fn unfiltered(streams: &[&'static StreamDescriptor]) -> Vec<&'static str> {
    streams
        .iter()
        .filter(|s| filtering(s.name).is_none())
        .map(|s| s.name)
        .collect()
}

/// The chosen channels, sorted and without repeats (`None`: every channel).
pub fn normalize(channels: &[i64]) -> Option<Vec<i64>> {
    let mut set = channels.to_vec();
    set.sort_unstable();
    set.dedup();
    (!set.is_empty()).then_some(set)
}

/// Which records of a page are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Keep {
    /// Every record.
    All,
    /// None: the chosen channels have nothing in this stream (no category tree).
    Nothing,
    /// Records whose integer `field` is one of these.
    FieldIn(&'static str, Vec<i64>),
    /// Customers whose `channel_ids` share a channel with these, or are null or absent:
    /// a customer without a list may use every channel (docs/api-notes.md §2.3).
    CustomerChannels(Vec<i64>),
}

/// What one stream's reads add to their query and keep of each page, for the chosen
/// channels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChannelScope {
    pub query: Vec<(String, String)>,
    keep: Keep,
}

impl ChannelScope {
    /// No filter (every channel, or a stream without channels).
    pub fn all() -> Self {
        Self {
            query: Vec::new(),
            keep: Keep::All,
        }
    }

    /// Whether nothing can match, so the stream needs no list request at all.
    pub fn reads_nothing(&self) -> bool {
        self.keep == Keep::Nothing
    }

    /// Whether `record` belongs to the chosen channels.
    pub(crate) fn keeps<R: ReadRecord>(&self, record: &R) -> bool {
        match &self.keep {
            Keep::All => true,
            Keep::Nothing => false,
            Keep::FieldIn(field, set) => record
                .field(field)
                .and_then(|v| v.as_i64())
                .is_some_and(|v| set.contains(&v)),
            Keep::CustomerChannels(set) => match record.field("channel_ids") {
                None | Some(Value::Null) => true,
                Some(Value::Array(ids)) => ids
                    .iter()
                    .filter_map(Value::as_i64)
                    .any(|c| set.contains(&c)),
                Some(_) => false,
            },
        }
    }

    /// The records of a page that belong to the chosen channels.
    pub(crate) fn retain<R: ReadRecord>(&self, mut records: Vec<R>) -> Vec<R> {
        if self.keep != Keep::All {
            records.retain(|r| self.keeps(r));
        }
        records
    }
}

fn comma_list(ids: &[i64]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A list whose channel filter takes one id (V2 orders `channel_id`, pages `channel_id`):
/// the API filters one channel. For several, the list is read once and filtered here:
/// one read per channel would cost fewer requests when the chosen channels hold few of
/// the records, but each read would need its own bookmark (the state keeps one per
/// stream, and one bookmark advanced by channel A's read would skip channel B's records
/// after an interruption), so the one read that stays exact with one bookmark is the
/// unfiltered list.
fn one_id_filter(param: &str, set: &[i64]) -> ChannelScope {
    match set {
        [one] => ChannelScope {
            query: vec![(param.to_owned(), one.to_string())],
            keep: Keep::All,
        },
        _ => ChannelScope {
            query: Vec::new(),
            keep: Keep::FieldIn("channel_id", set.to_vec()),
        },
    }
}

/// The scope of `stream` for `channels` (`None`: every channel). Categories cost one
/// request here: the trees of the chosen channels, whose ids filter the category list.
pub(crate) async fn scope(
    client: &Client,
    stream: &StreamDescriptor,
    channels: Option<&[i64]>,
) -> Result<ChannelScope> {
    let Some(set) = channels else {
        return Ok(ChannelScope::all());
    };
    let any_of = |param: &str| ChannelScope {
        query: vec![(param.to_owned(), comma_list(set))],
        keep: Keep::All,
    };
    Ok(match stream.name {
        "orders" | "transactions" | "pages" => one_id_filter("channel_id", set),
        "products" | "category_trees" => any_of("channel_id:in"),
        "customers" => ChannelScope {
            query: Vec::new(),
            keep: Keep::CustomerChannels(set.to_vec()),
        },
        "subscribers" => ChannelScope {
            query: Vec::new(),
            keep: Keep::FieldIn("channel_id", set.to_vec()),
        },
        "channels" => ChannelScope {
            query: Vec::new(),
            keep: Keep::FieldIn("id", set.to_vec()),
        },
        "categories" => {
            let pages: Vec<bigcommerce::Page<Value>> = client
                .v3_pages(
                    "/catalog/trees",
                    vec![("channel_id:in".to_owned(), comma_list(set))],
                    250,
                )
                .try_collect()
                .await?;
            let tree_ids: Vec<i64> = pages
                .iter()
                .flat_map(|p| &p.items)
                .filter_map(|t| t.get("id").and_then(Value::as_i64))
                .collect();
            if tree_ids.is_empty() {
                ChannelScope {
                    query: Vec::new(),
                    keep: Keep::Nothing,
                }
            } else {
                ChannelScope {
                    query: vec![("tree_id:in".to_owned(), comma_list(&tree_ids))],
                    keep: Keep::FieldIn("tree_id", tree_ids),
                }
            }
        }
        _ => ChannelScope::all(),
    })
}

/// Bookmarks are kept per channel set: the state of a filtered incremental stream records
/// the set it was read with, and a state read with another set (no `--channel` counts as
/// every channel) is dropped, so the stream is read whole again and its complete read
/// marks the rows outside the new set deleted. Returns whether the state was dropped.
pub(crate) fn rebase_state(
    stream: &StreamDescriptor,
    channels: Option<&[i64]>,
    state: &mut StreamState,
) -> bool {
    if !stream.is_incremental() || filtering(stream.name).is_none() {
        return false;
    }
    let wanted = channels.map(<[i64]>::to_vec);
    if state.channels == wanted {
        return false;
    }
    let had_progress =
        state.bookmark.is_some() || state.full_read_started.is_some() || !state.windows.is_empty();
    if had_progress {
        *state = StreamState::default();
    }
    state.channels = wanted;
    had_progress
}

/// How a channel set is shown in messages.
pub fn describe(channels: Option<&[i64]>) -> String {
    match channels {
        None => "every channel".to_owned(),
        Some(set) => format!("channels {}", comma_list(set)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn customers_without_a_channel_list_belong_to_every_channel() {
        let scope = ChannelScope {
            query: Vec::new(),
            keep: Keep::CustomerChannels(vec![2]),
        };
        assert!(scope.keeps(&json!({"id": 1, "channel_ids": null})));
        assert!(scope.keeps(&json!({"id": 1})));
        assert!(scope.keeps(&json!({"id": 1, "channel_ids": [1, 2]})));
        assert!(!scope.keeps(&json!({"id": 1, "channel_ids": [1]})));
    }

    #[test]
    fn one_channel_is_asked_of_the_api_several_are_kept_locally() {
        assert_eq!(
            one_id_filter("channel_id", &[2]).query,
            vec![("channel_id".to_owned(), "2".to_owned())]
        );
        let several = one_id_filter("channel_id", &[1, 3]);
        assert!(several.query.is_empty());
        assert!(several.keeps(&json!({"channel_id": 3})));
        assert!(!several.keeps(&json!({"channel_id": 2})));
    }

    #[test]
    fn a_new_channel_set_drops_the_bookmark_of_filtered_incremental_streams() {
        let orders = crate::streams::find("orders").unwrap();
        let brands = crate::streams::find("brands").unwrap();
        let read = StreamState {
            bookmark: Some(chrono::Utc::now()),
            ..StreamState::default()
        };
        let mut same = StreamState {
            channels: Some(vec![1]),
            ..read.clone()
        };
        assert!(!rebase_state(orders, Some(&[1]), &mut same));
        assert!(same.bookmark.is_some());
        let mut changed = same.clone();
        assert!(rebase_state(orders, Some(&[1, 2]), &mut changed));
        assert_eq!(changed.bookmark, None);
        assert_eq!(changed.channels, Some(vec![1, 2]));
        // A state saved before channel sets existed was read with every channel.
        let mut old = read.clone();
        assert!(!rebase_state(orders, None, &mut old));
        assert!(rebase_state(orders, Some(&[2]), &mut old));
        let mut first = StreamState::default();
        assert!(!rebase_state(orders, Some(&[2]), &mut first));
        assert_eq!(first.channels, Some(vec![2]));
        let mut unfiltered = read;
        assert!(!rebase_state(brands, Some(&[2]), &mut unfiltered));
        assert_eq!(unfiltered.channels, None);
    }

    #[test]
    fn every_filtered_stream_exists() {
        for (name, _) in FILTERS {
            assert!(crate::streams::find(name).is_some(), "{name}");
        }
    }
}
