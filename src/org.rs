//! `--targets org:ou-xxxx` (or `org:root`, or a comma-separated list): the
//! active accounts under those organizational units, recursively, through
//! AWS Organizations; each reached by assuming the role `--target-role`
//! names (`{account}` filled in), kept or left out by `--include` and
//! `--exclude` (an account id, a name pattern with `*`, or `tag:KEY=VALUE`),
//! and multiplied by `--regions`. Target names come from account names.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::aws::Aws;
use crate::fanout::Target;

/// How the organization's accounts become targets.
pub struct Selection<'a> {
  /// `org:root`, `org:ou-…`, comma-separated.
  pub spec: &'a str,
  /// `arn:aws:iam::{account}:role/NAME`.
  pub role: &'a str,
  pub include: &'a [String],
  pub exclude: &'a [String],
  pub regions: &'a [String],
}

struct Account {
  id: String,
  name: String,
  tags: Vec<(String, String)>,
}

const CALL: Duration = Duration::from_secs(60);

fn block<F: std::future::Future>(aws: &Aws, future: F) -> Result<F::Output, String> {
  aws
    .block_on(&AtomicBool::new(false), Some(CALL), future)
    .map_err(|_| "organizations: no answer in time".to_string())
}

/// The targets the selection names, in account-name order.
pub fn targets(aws: &Aws, selection: &Selection) -> Result<Vec<Target>, String> {
  if !selection.role.contains("{account}") {
    return Err(format!(
      "--target-role {}: expected a template with {{account}}, e.g. arn:aws:iam::{{account}}:role/litops-readonly",
      selection.role
    ));
  }
  let client = aws.client(aws_sdk_organizations::Client::new);
  let mut parents = Vec::new();
  for part in selection.spec.split(',').map(str::trim) {
    let unit = part
      .strip_prefix("org:")
      .ok_or_else(|| format!("--targets {part}: expected org:root or org:ou-…"))?;
    if unit == "root" {
      let roots = block(aws, client.list_roots().send())?
        .map_err(|e| crate::aws::explain("organizations:ListRoots", &e))?;
      parents.extend(
        roots
          .roots()
          .iter()
          .filter_map(|r| r.id().map(str::to_string)),
      );
    } else {
      parents.push(unit.to_string());
    }
  }
  let mut accounts: Vec<Account> = Vec::new();
  while let Some(parent) = parents.pop() {
    let listed = block(
      aws,
      client
        .list_accounts_for_parent()
        .parent_id(&parent)
        .into_paginator()
        .send()
        .try_collect(),
    )?
    .map_err(|e| crate::aws::explain("organizations:ListAccountsForParent", &e))?;
    for account in listed.iter().flat_map(|page| page.accounts()) {
      let active = account.status().is_none_or(|s| s.as_str() == "ACTIVE");
      let (Some(id), true) = (account.id(), active) else {
        continue;
      };
      if accounts.iter().any(|a| a.id == id) {
        continue;
      }
      accounts.push(Account {
        id: id.to_string(),
        name: account.name().unwrap_or(id).to_string(),
        tags: Vec::new(),
      });
    }
    let units = block(
      aws,
      client
        .list_organizational_units_for_parent()
        .parent_id(&parent)
        .into_paginator()
        .send()
        .try_collect(),
    )?
    .map_err(|e| crate::aws::explain("organizations:ListOrganizationalUnitsForParent", &e))?;
    parents.extend(
      units
        .iter()
        .flat_map(|page| page.organizational_units())
        .filter_map(|u| u.id().map(str::to_string)),
    );
  }
  let by_tag = selection
    .include
    .iter()
    .chain(selection.exclude)
    .any(|f| f.starts_with("tag:"));
  if by_tag {
    for account in &mut accounts {
      let tags = block(
        aws,
        client
          .list_tags_for_resource()
          .resource_id(&account.id)
          .send(),
      )?
      .map_err(|e| crate::aws::explain("organizations:ListTagsForResource", &e))?;
      account.tags = tags
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    }
  }
  accounts.retain(|a| {
    (selection.include.is_empty() || selection.include.iter().any(|f| matches(a, f)))
      && !selection.exclude.iter().any(|f| matches(a, f))
  });
  accounts.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
  let regions: Vec<Option<&String>> = if selection.regions.is_empty() {
    vec![None]
  } else {
    selection.regions.iter().map(Some).collect()
  };
  let mut targets = Vec::new();
  for account in &accounts {
    for region in &regions {
      let name = match region {
        Some(region) if regions.len() > 1 => format!("{}-{region}", slug(&account.name)),
        _ => slug(&account.name),
      };
      targets.push(Target {
        name,
        params: serde_yaml::Mapping::new(),
        profile: None,
        region: region.map(|r| r.to_string()),
        role: Some(selection.role.replace("{account}", &account.id)),
      });
    }
  }
  Ok(targets)
}

/// Whether `filter` (an account id, a name pattern with `*`, or
/// `tag:KEY=VALUE`) picks `account`.
fn matches(account: &Account, filter: &str) -> bool {
  if let Some(tag) = filter.strip_prefix("tag:") {
    let (key, value) = tag.split_once('=').unwrap_or((tag, ""));
    return account
      .tags
      .iter()
      .any(|(k, v)| k == key && (value.is_empty() || v == value));
  }
  account.id == filter || glob(filter, &account.name)
}

/// `*` matches any run of characters; nothing else is special.
fn glob(pattern: &str, text: &str) -> bool {
  let parts: Vec<&str> = pattern.split('*').collect();
  if parts.len() == 1 {
    return pattern == text;
  }
  let (first, last) = (parts[0], parts[parts.len() - 1]);
  if !text.starts_with(first) || !text.ends_with(last) || text.len() < first.len() + last.len() {
    return false;
  }
  let mut rest = &text[first.len()..text.len() - last.len()];
  for middle in &parts[1..parts.len() - 1] {
    match rest.find(middle) {
      Some(at) => rest = &rest[at + middle.len()..],
      None => return false,
    }
  }
  true
}

/// An account name as a target name (and a file name): letters, digits,
/// `-`, `_` and `.`; anything else becomes `-`.
fn slug(name: &str) -> String {
  name
    .chars()
    .map(|c| {
      if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
        c
      } else {
        '-'
      }
    })
    .collect()
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn globs_match_names_with_any_run_for_a_star() {
    assert!(glob("acme-*", "acme-prod"));
    assert!(glob("*-prod", "acme-prod"));
    assert!(glob("a*m*d", "acme-prod"));
    assert!(!glob("acme-*", "globex-prod"));
    assert!(!glob("a*z", "acme"));
    assert!(glob("exact", "exact"));
    assert!(!glob("ab*ba", "aba"));
  }

  #[test]
  fn account_names_become_file_safe_target_names() {
    assert_eq!(slug("Acme Prod / EU"), "Acme-Prod---EU");
    assert_eq!(slug("globex.prod_2"), "globex.prod_2");
  }
}
