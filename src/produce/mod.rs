//! The sales simulator behind `lakectl produce`: a reproducible stream of sales in the seed
//! schema, with optional late events and malformed records for testing.

pub mod shop;

use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use shop::{Client, PRODUCTS};

/// What kind of record was generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A well-formed, on-time sale.
    Valid,
    /// A well-formed sale whose event time is hours old (beyond any usual watermark).
    Late,
    /// A record that is not valid JSON or does not fit the schema.
    Malformed,
}

/// Generator settings.
#[derive(Debug, Clone)]
pub struct GeneratorOptions {
    /// RNG seed; None = from entropy.
    pub seed: Option<u64>,
    /// Fraction of late events.
    pub late_fraction: f64,
    /// Fraction of malformed records.
    pub malformed_fraction: f64,
    /// First vente_id.
    pub first_id: i64,
    /// How many clients buy (the seeds' 20 by default; more are generated).
    pub clients: usize,
    /// Probability, per sale, that its client first moves to another country or switches
    /// segment (Business ↔ Consumer); the change sticks for the rest of the stream.
    pub client_changes: f64,
}

impl Default for GeneratorOptions {
    fn default() -> Self {
        Self {
            seed: None,
            late_fraction: 0.0,
            malformed_fraction: 0.0,
            first_id: 1,
            clients: shop::CLIENTS.len(),
            client_changes: 0.0,
        }
    }
}

/// One sale, in the seed schema.
#[derive(Debug, Serialize)]
pub struct Sale<'a> {
    /// Sale id.
    pub vente_id: i64,
    /// Client id.
    pub client_id: i64,
    /// Product id.
    pub produit_id: i64,
    /// Event time, RFC 3339 UTC.
    pub timestamp: String,
    /// Quantity.
    pub quantite: i32,
    /// Amount = quantity × unit price.
    pub montant: f64,
    /// Client name.
    pub client_nom: &'a str,
    /// Product name.
    pub produit_nom: &'a str,
    /// Product category.
    pub categorie: &'a str,
    /// Country.
    pub pays: &'a str,
    /// Business or Consumer.
    pub segment: &'a str,
}

/// Generates sales.
pub struct SaleGenerator {
    rng: SmallRng,
    next_id: i64,
    clients: Vec<Client>,
    opts: GeneratorOptions,
}

impl SaleGenerator {
    /// A generator; the same seed gives the same stream.
    pub fn new(opts: GeneratorOptions) -> Self {
        let rng = match opts.seed {
            Some(s) => SmallRng::seed_from_u64(s),
            None => SmallRng::from_rng(&mut rand::rng()),
        };
        Self {
            rng,
            next_id: opts.first_id,
            clients: shop::clients(opts.clients.max(1)),
            opts,
        }
    }

    /// Writes the next record (event time `now`, or hours before it for a late event) into
    /// `out` (cleared first). Returns its kind and the partitioning key (the client id).
    pub fn next_into(&mut self, now: DateTime<Utc>, out: &mut Vec<u8>) -> (RecordKind, i64) {
        out.clear();
        let i = self.rng.random_range(0..self.clients.len());
        // (No draw at rate 0: a seed gives the same stream as before the option existed.)
        if self.opts.client_changes > 0.0 && self.rng.random::<f64>() < self.opts.client_changes {
            change_client(&mut self.rng, &mut self.clients[i]);
        }
        let client = &self.clients[i];
        let product = PRODUCTS[self.rng.random_range(0..PRODUCTS.len())];
        let quantite: i32 = self.rng.random_range(1..=5);
        let roll: f64 = self.rng.random();
        let kind = if roll < self.opts.malformed_fraction {
            RecordKind::Malformed
        } else if roll < self.opts.malformed_fraction + self.opts.late_fraction {
            RecordKind::Late
        } else {
            RecordKind::Valid
        };
        let ts = match kind {
            RecordKind::Late => {
                now - ChronoDuration::seconds(self.rng.random_range(3600..3 * 3600))
            }
            _ => now,
        };
        let sale = Sale {
            vente_id: self.next_id,
            client_id: client.id,
            produit_id: product.id,
            timestamp: ts.to_rfc3339_opts(SecondsFormat::Millis, true),
            quantite,
            montant: (quantite as f64 * product.prix * 100.0).round() / 100.0,
            client_nom: &client.nom,
            produit_nom: product.nom,
            categorie: product.categorie,
            pays: client.pays,
            segment: client.segment,
        };
        self.next_id += 1;
        // Serializing a plain struct into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &sale);
        if kind == RecordKind::Malformed {
            corrupt(&mut self.rng, out, &sale);
        }
        (kind, client.id)
    }
}

/// Moves `c` to another country, or switches its segment (an even chance of each).
fn change_client(rng: &mut SmallRng, c: &mut Client) {
    if rng.random_bool(0.5) {
        let others: Vec<&'static str> = shop::COUNTRIES
            .iter()
            .copied()
            .filter(|p| *p != c.pays)
            .collect();
        c.pays = others[rng.random_range(0..others.len())];
    } else {
        c.segment = if c.segment == "Business" {
            "Consumer"
        } else {
            "Business"
        };
    }
}

/// Turns the serialised sale in `out` into one of the malformed records.
fn corrupt(rng: &mut SmallRng, out: &mut Vec<u8>, sale: &Sale<'_>) {
    match rng.random_range(0..4) {
        // Truncated JSON.
        0 => out.truncate(out.len() / 2),
        // Wrong type.
        1 => {
            out.clear();
            let text = String::from_utf8_lossy(&serde_json::to_vec(sale).unwrap_or_default())
                .replace(
                    &format!("\"quantite\":{}", sale.quantite),
                    "\"quantite\":\"beaucoup\"",
                );
            out.extend_from_slice(text.as_bytes());
        }
        // Missing event time.
        2 => {
            out.clear();
            let text = String::from_utf8_lossy(&serde_json::to_vec(sale).unwrap_or_default())
                .replace(&format!("\"timestamp\":\"{}\",", sale.timestamp), "");
            out.extend_from_slice(text.as_bytes());
        }
        // Not JSON at all.
        _ => {
            out.clear();
            out.extend_from_slice(format!("vente {} ???", sale.vente_id).as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen(seed: u64, late: f64, bad: f64) -> SaleGenerator {
        SaleGenerator::new(GeneratorOptions {
            seed: Some(seed),
            late_fraction: late,
            malformed_fraction: bad,
            first_id: 1,
            ..Default::default()
        })
    }

    #[test]
    fn same_seed_same_stream() {
        let now = Utc::now();
        let (mut a, mut b) = (gen(7, 0.1, 0.1), gen(7, 0.1, 0.1));
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for _ in 0..100 {
            a.next_into(now, &mut x);
            b.next_into(now, &mut y);
            assert_eq!(x, y);
        }
    }

    #[test]
    fn clients_change_country_or_segment_at_the_given_rate_and_keep_it() {
        let mut g = SaleGenerator::new(GeneratorOptions {
            seed: Some(3),
            client_changes: 0.2,
            ..Default::default()
        });
        let seeds: std::collections::HashMap<i64, (&str, &str)> = shop::CLIENTS
            .iter()
            .map(|c| (c.id, (c.pays, c.segment)))
            .collect();
        let mut last: std::collections::HashMap<i64, (String, String)> = Default::default();
        let (mut changes, mut buf) = (0, Vec::new());
        for _ in 0..2000 {
            g.next_into(Utc::now(), &mut buf);
            let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
            let id = v["client_id"].as_i64().unwrap();
            let now = (
                v["pays"].as_str().unwrap().to_string(),
                v["segment"].as_str().unwrap().to_string(),
            );
            let before = last
                .get(&id)
                .cloned()
                .unwrap_or_else(|| (seeds[&id].0.into(), seeds[&id].1.into()));
            if now != before {
                changes += 1;
                // One attribute at a time.
                assert!(
                    now.0 == before.0 || now.1 == before.1,
                    "{before:?} → {now:?}"
                );
            }
            last.insert(id, now);
        }
        assert!(
            (300..=500).contains(&changes),
            "{changes} changes in 2000 sales"
        );
    }

    #[test]
    fn valid_records_have_the_seed_schema() {
        let mut g = gen(1, 0.0, 0.0);
        let mut buf = Vec::new();
        let (kind, _) = g.next_into(Utc::now(), &mut buf);
        assert_eq!(kind, RecordKind::Valid);
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        for k in [
            "vente_id",
            "client_id",
            "produit_id",
            "timestamp",
            "quantite",
            "montant",
            "client_nom",
            "produit_nom",
            "categorie",
            "pays",
            "segment",
        ] {
            assert!(v.get(k).is_some(), "missing {k}");
        }
        let q = v["quantite"].as_f64().unwrap();
        let prix = PRODUCTS
            .iter()
            .find(|p| p.id == v["produit_id"].as_i64().unwrap())
            .unwrap()
            .prix;
        assert!((v["montant"].as_f64().unwrap() - q * prix).abs() < 0.01);
    }

    #[test]
    fn fractions_are_honoured() {
        let mut g = gen(3, 0.2, 0.1);
        let mut buf = Vec::new();
        let (mut late, mut bad) = (0, 0);
        for _ in 0..10_000 {
            match g.next_into(Utc::now(), &mut buf).0 {
                RecordKind::Late => late += 1,
                RecordKind::Malformed => {
                    bad += 1;
                    let ok = serde_json::from_slice::<serde_json::Value>(&buf)
                        .ok()
                        .filter(|v| v["quantite"].is_i64() && v["timestamp"].is_string());
                    assert!(ok.is_none(), "a malformed record must not be a valid sale");
                }
                RecordKind::Valid => {}
            }
        }
        assert!((1800..2200).contains(&late), "{late}");
        assert!((800..1200).contains(&bad), "{bad}");
    }
}
