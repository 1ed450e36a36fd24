//! Flat RPC parameters (`Image.2`, `Tag.1.Key`, `AcrRegistryInfo.1.Domain.2`)
//! taken apart field by field; whatever no field claims is unknown to the
//! action (ignored and noted, or rejected: [`UnknownParams`]).

use std::collections::BTreeMap;

use crate::api::Action;
use crate::error::ApiError;

use super::rpc::UnknownParams;

/// Parameters every RPC request may carry that no action reads: those of the
/// classic signature form. `Owner*` and `ResourceOwner*` account fields,
/// which ordinary callers never set, are ignored too.
const IGNORED: &[&str] = &[
    "Action",
    "Version",
    "Format",
    "Timestamp",
    "SignatureNonce",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureType",
    "Signature",
    "AccessKeyId",
    "SecurityToken",
    "BearerToken",
    "RequestId",
];

pub(crate) fn ignored(name: &str) -> bool {
    IGNORED.contains(&name) || name.starts_with("Owner") || name.starts_with("ResourceOwner")
}

/// `Prefix.N.Field` parameters: per N, in order, the fields and values.
pub(crate) type Objects = Vec<(u32, BTreeMap<String, String>)>;

/// The parameters of one call, by name.
pub(crate) struct Flat {
    params: BTreeMap<String, String>,
    /// Fields of `Prefix.N.Field` objects no decoder claimed.
    unclaimed: Vec<String>,
}

impl Flat {
    /// Collects the parameters; a name given twice is an error.
    pub fn new<K: AsRef<str>, V: AsRef<str>>(
        params: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Flat, ApiError> {
        let mut map = BTreeMap::new();
        for (name, value) in params {
            let name = name.as_ref();
            if ignored(name) {
                continue;
            }
            if map
                .insert(name.to_owned(), value.as_ref().to_owned())
                .is_some()
            {
                return Err(ApiError::invalid(name, "given more than once"));
            }
        }
        Ok(Flat {
            params: map,
            unclaimed: Vec::new(),
        })
    }

    /// A string; empty counts as absent.
    pub fn text(&mut self, name: &str) -> Option<String> {
        self.params.remove(name).filter(|v| !v.is_empty())
    }

    /// A string, empty kept.
    pub fn raw(&mut self, name: &str) -> Option<String> {
        self.params.remove(name)
    }

    /// A non-negative decimal integer; an empty value is an error.
    pub fn integer(&mut self, name: &str) -> Result<Option<u32>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(v) => match v.parse::<u32>() {
                Ok(n) if v.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(n)),
                _ => Err(ApiError::invalid(
                    name,
                    format_args!("expected an integer, got {v:?}"),
                )),
            },
        }
    }

    /// `true` / `false` in any letter case (the Python SDK sends `True`);
    /// an empty value is an error.
    pub fn boolean(&mut self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::invalid(
                name,
                format_args!("expected true or false, got {v:?}"),
            )),
        }
    }

    /// `Prefix.N` values, ordered by N (1-based, sparse allowed); `None`
    /// when none is given. Every `Prefix.<anything>` is an element of the
    /// list, so a malformed index (`MatchImage.1.`, `MatchImage..1`,
    /// `MatchImage.1.2`) is an error, never an unknown parameter.
    pub fn list(&mut self, prefix: &str) -> Result<Option<Vec<(String, String)>>, ApiError> {
        let names: Vec<String> = self
            .params
            .range(format!("{prefix}.")..)
            .take_while(|(k, _)| k.starts_with(prefix) && k[prefix.len()..].starts_with('.'))
            .map(|(k, _)| k.clone())
            .collect();
        if names.is_empty() {
            return Ok(None);
        }
        let mut items = BTreeMap::new();
        for name in names {
            let n = index(&name, &name[prefix.len() + 1..])?;
            let value = self.params.remove(&name).expect("listed");
            items.insert(n, (name, value));
        }
        Ok(Some(items.into_values().collect()))
    }

    /// `Prefix.N.Field` objects, ordered by N; each a map from field (which
    /// may itself hold dots, like `Domain.2`) to value. `None` when none is
    /// given.
    pub fn objects(&mut self, prefix: &str) -> Result<Option<Objects>, ApiError> {
        let names: Vec<String> = self
            .params
            .range(format!("{prefix}.")..)
            .take_while(|(k, _)| k.starts_with(prefix) && k[prefix.len()..].starts_with('.'))
            .map(|(k, _)| k.clone())
            .collect();
        if names.is_empty() {
            return Ok(None);
        }
        let mut objects: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
        for name in names {
            let rest = &name[prefix.len() + 1..];
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let (n, field) = rest.split_at(digits);
            let n = index(&name, n)?;
            // The legacy SDK writes `AcrRegistryInfo.1Domain.1` (no dot);
            // nothing else is spelled that way.
            let field = match field.strip_prefix('.') {
                Some(field) => field,
                None if prefix == "AcrRegistryInfo" => field,
                None => "",
            };
            if field.is_empty() || digits == 0 {
                return Err(ApiError::invalid(
                    &name,
                    format_args!("expected {prefix}.N.<field>"),
                ));
            }
            let value = self.params.remove(&name).expect("listed");
            objects
                .entry(n)
                .or_default()
                .insert(field.to_owned(), value);
        }
        Ok(Some(objects.into_iter().collect()))
    }

    /// Notes the fields of object `Prefix.N` that no decoder claimed.
    pub fn unclaimed(&mut self, prefix: &str, n: u32, fields: BTreeMap<String, String>) {
        self.unclaimed
            .extend(fields.into_keys().map(|f| format!("{prefix}.{n}.{f}")));
    }

    /// Hands every parameter nothing claimed to `unknown`, in name order:
    /// noted, or the first rejected.
    pub fn finish(self, action: Action, unknown: &mut UnknownParams) -> Result<(), ApiError> {
        let mut names: Vec<String> = self.params.into_keys().chain(self.unclaimed).collect();
        names.sort();
        for name in names {
            unknown.note(name, action)?;
        }
        Ok(())
    }
}

/// A list index: plain decimal, 1-based, no leading zeros (`MatchImage.01`
/// is an error, not a second `MatchImage.1`).
pub(crate) fn index(name: &str, text: &str) -> Result<u32, ApiError> {
    match text.parse::<u32>() {
        Ok(n) if n >= 1 && !text.starts_with('0') && text.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(n)
        }
        _ => Err(ApiError::invalid(
            name,
            "list indices are 1-based decimal numbers without leading zeros",
        )),
    }
}
