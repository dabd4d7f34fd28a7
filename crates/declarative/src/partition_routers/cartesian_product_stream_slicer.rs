//! `CartesianProductStreamSlicer`: what a list of partition routers gives, the product of
//! their partitions (the first router varies slowest).

use serde_json::{Map, Value};

use super::PartitionRouter;
use crate::engine_error::Result;
use crate::http::HttpClient;
use crate::requesters::RequestOptions;
use crate::slice::Slice;

/// The product of several routers.
#[derive(Debug)]
pub struct CartesianProductStreamSlicer {
    routers: Vec<Box<dyn PartitionRouter>>,
}

impl CartesianProductStreamSlicer {
    /// The product of `routers`.
    pub fn new(routers: Vec<Box<dyn PartitionRouter>>) -> Self {
        Self { routers }
    }
}

/// `dict(ChainMap(*maps))`: every key of the maps, the first map that has it winning.
fn chain_maps<'a>(
    maps: impl DoubleEndedIterator<Item = &'a Map<String, Value>>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for map in maps.rev() {
        for (k, v) in map {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

impl PartitionRouter for CartesianProductStreamSlicer {
    fn for_each_partition(
        &self,
        client: &HttpClient,
        stream_state: Option<&Value>,
        f: &mut dyn FnMut(Slice) -> Result<bool>,
    ) -> Result<()> {
        // `itertools.product` takes every router's partitions before the first product: the
        // parents are all read first.
        let mut lists: Vec<Vec<Slice>> = Vec::with_capacity(self.routers.len());
        for router in &self.routers {
            let mut list = Vec::new();
            router.for_each_partition(client, stream_state, &mut |slice| {
                list.push(slice);
                Ok(true)
            })?;
            if list.is_empty() {
                return Ok(());
            }
            lists.push(list);
        }
        if lists.is_empty() {
            return Ok(());
        }
        let mut indexes = vec![0usize; lists.len()];
        loop {
            let parts: Vec<&Slice> = indexes.iter().zip(&lists).map(|(&i, l)| &l[i]).collect();
            let cursor_slices: Vec<&Map<String, Value>> = parts
                .iter()
                .map(|s| &s.cursor_slice)
                .filter(|c| !c.is_empty())
                .collect();
            if cursor_slices.len() > 1 {
                return Err(crate::engine_error::EngineError::Input(format!(
                    "There should only be a single cursor slice. Found {cursor_slices:?}"
                )));
            }
            let slice = Slice {
                partition: chain_maps(parts.iter().map(|s| &s.partition)),
                cursor_slice: cursor_slices
                    .first()
                    .map(|c| (*c).clone())
                    .unwrap_or_default(),
                extra_fields: chain_maps(parts.iter().map(|s| &s.extra_fields)),
            };
            if !f(slice)? {
                return Ok(());
            }
            // The next index tuple, the last router varying fastest.
            let mut position = lists.len();
            loop {
                if position == 0 {
                    return Ok(());
                }
                position -= 1;
                indexes[position] += 1;
                if indexes[position] < lists[position].len() {
                    break;
                }
                indexes[position] = 0;
            }
        }
    }

    fn request_options(&self, slice: &Slice) -> Result<RequestOptions> {
        let mut each = Vec::with_capacity(self.routers.len());
        for router in &self.routers {
            each.push(router.request_options(slice)?);
        }
        Ok(RequestOptions {
            params: chain_maps(each.iter().map(|o| &o.params)),
            headers: chain_maps(each.iter().map(|o| &o.headers)),
            body_data: chain_maps(each.iter().map(|o| &o.body_data)),
            body_text: None,
            body_json: chain_maps(each.iter().map(|o| &o.body_json)),
        })
    }

    fn parent_state(&self) -> Option<Value> {
        // The CDK does not track parent states through a product.
        None
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::partition_routers::test_support::{FixedRouter, client};

    #[test]
    fn the_product_of_partitions_the_first_router_slowest() {
        let a = FixedRouter::new(vec![json!({"i": 0}), json!({"i": 1})])
            .with_extra(0, json!({"e": "a"}));
        let b = FixedRouter::new(vec![json!({"s": "x", "i": 9}), json!({"s": "y"})])
            .with_extra(1, json!({"e": "b"}));
        let product = CartesianProductStreamSlicer::new(vec![Box::new(a), Box::new(b)]);
        let mut out = Vec::new();
        product
            .for_each_partition(&client(), None, &mut |s| {
                out.push((Value::Object(s.partition), Value::Object(s.extra_fields)));
                Ok(true)
            })
            .expect("partitions");
        assert_eq!(
            out,
            vec![
                (json!({"i": 0, "s": "x"}), json!({"e": "a"})),
                (json!({"i": 0, "s": "y"}), json!({"e": "a"})),
                (json!({"i": 1, "s": "x"}), json!({})),
                (json!({"i": 1, "s": "y"}), json!({"e": "b"})),
            ]
        );
        assert_eq!(product.parent_state(), None);
    }

    #[test]
    fn an_empty_router_gives_no_partition_and_options_chain() {
        let a = FixedRouter::new(vec![json!({"id": 1})]);
        let b = FixedRouter::new(vec![]);
        let product = CartesianProductStreamSlicer::new(vec![Box::new(a), Box::new(b)]);
        let mut n = 0;
        product
            .for_each_partition(&client(), None, &mut |_| {
                n += 1;
                Ok(true)
            })
            .expect("partitions");
        assert_eq!(n, 0);
        let slice = Slice {
            partition: json!({"id": 1}).as_object().cloned().unwrap_or_default(),
            ..Slice::default()
        };
        let options = product.request_options(&slice).expect("options");
        assert_eq!(options.params.get("id"), Some(&json!(1)));
    }
}
