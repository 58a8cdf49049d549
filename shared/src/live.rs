//! Live values: the Redis hashes the site's collectors write (`ts` = epoch seconds of the last
//! update), and when they are too old to show as current.

/// The default age after which a live value is stale (`live_stale_after_secs`).
pub const DEFAULT_STALE_AFTER_SECS: i64 = 60;

#[derive(Debug, Clone, PartialEq)]
pub struct LiveValues {
    fields: Vec<(String, String)>,
    /// Epoch seconds of the last update, when the hash says.
    pub ts: Option<i64>,
    pub stale: bool,
}

impl LiveValues {
    /// `None` for an absent hash (no fields at all). A hash without a readable `ts`, or one older
    /// than `stale_after` seconds at `now`, is stale; so is one from the future beyond the same
    /// margin (a collector with a wrong clock is not to be trusted either).
    pub fn from_fields(
        fields: Vec<(String, String)>,
        now: i64,
        stale_after: i64,
    ) -> Option<LiveValues> {
        if fields.is_empty() {
            return None;
        }
        let ts = fields
            .iter()
            .find(|(k, _)| k == "ts")
            .and_then(|(_, v)| v.parse::<f64>().ok())
            .filter(|t| t.is_finite())
            .map(|t| t as i64);
        let stale = ts.is_none_or(|t| (now - t).abs() > stale_after);
        Some(LiveValues { fields, ts, stale })
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A numeric field; `None` when absent or not a finite number.
    pub fn f64(&self, name: &str) -> Option<f64> {
        self.str(name)
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite())
    }

    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn fresh_stale_and_absent() {
        let now = 1_000_000;
        let fresh =
            LiveValues::from_fields(hash(&[("soc", "55.5"), ("ts", "999990")]), now, 60).unwrap();
        assert!(!fresh.stale);
        assert_eq!(fresh.ts, Some(999_990));
        assert_eq!(fresh.f64("soc"), Some(55.5));
        assert_eq!(fresh.f64("missing"), None);

        let old = LiveValues::from_fields(hash(&[("ts", "999939")]), now, 60).unwrap();
        assert!(old.stale, "61 s old");
        let edge = LiveValues::from_fields(hash(&[("ts", "999940")]), now, 60).unwrap();
        assert!(!edge.stale, "exactly 60 s is still fresh");
        let future = LiveValues::from_fields(hash(&[("ts", "1000100")]), now, 60).unwrap();
        assert!(future.stale);
        let no_ts = LiveValues::from_fields(hash(&[("soc", "1")]), now, 60).unwrap();
        assert!(no_ts.stale && no_ts.ts.is_none());
        let bad_ts = LiveValues::from_fields(hash(&[("ts", "NaN")]), now, 60).unwrap();
        assert!(bad_ts.stale);
        assert_eq!(LiveValues::from_fields(Vec::new(), now, 60), None);
    }

    #[test]
    fn non_numbers_are_not_numbers() {
        let v = LiveValues::from_fields(hash(&[("ts", "1"), ("soc", "n/a"), ("p", "inf")]), 1, 60)
            .unwrap();
        assert_eq!(v.f64("soc"), None);
        assert_eq!(v.f64("p"), None);
        assert_eq!(v.str("soc"), Some("n/a"));
    }
}
