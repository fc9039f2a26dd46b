//! `schoon orgs` and `schoon keys`: organisations and API keys, straight on the store.
//!
//! The command line is the operator's tool: whoever can run it can read the database, so it
//! asks for no key. It is also how the first admin key of an installation is made
//! (`schoon keys create --role admin --create-org operator`).

use crate::db::{self, DbArgs};
use anyhow::{Context, Result, bail};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use lists::keys::NewKey;
use lists::{ApiKey, ApiKeyInfo, Millis, OrgKind, Organisation, Role, Store};
use std::collections::HashMap;

/// Parses an organisation kind, offering the known ones in `--help`.
pub fn org_kind_parser() -> impl TypedValueParser<Value = OrgKind> {
    PossibleValuesParser::new(OrgKind::ALL.map(OrgKind::name))
        .map(|s| s.parse::<OrgKind>().expect("a possible value"))
}

fn role_parser() -> impl TypedValueParser<Value = Role> {
    PossibleValuesParser::new(Role::ALL.map(Role::name))
        .map(|s| s.parse::<Role>().expect("a possible value"))
}

/// Arguments of `schoon orgs`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = ORGS_EXAMPLES)]
pub struct OrgsArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(subcommand)]
    command: OrgsCommand,
}

const ORGS_EXAMPLES: &str = "\
Every key and every list belongs to an organisation: a police service or hotline that keeps
lists, a hosting provider that checks its uploads, the operator of this installation.

Examples:
  schoon orgs create 'Politie Nederland' --kind police
  schoon orgs create 'Example Hosting B.V.' --kind hoster --email abuse@hosting.example
  schoon orgs email 'Politie Nederland' hashlists@politie.example   # where its alerts go
  schoon orgs list
  schoon --db postgres://schoon@db/schoon orgs list --json";

#[derive(Debug, clap::Subcommand)]
enum OrgsCommand {
    /// Create an organisation.
    Create {
        /// Its unique name.
        name: String,
        /// What it is.
        #[arg(long, value_parser = org_kind_parser())]
        kind: OrgKind,
        /// Where its alerts (list owners) and retraction notices (hosters) go.
        #[arg(long, value_name = "ADDR")]
        email: Option<String>,
    },
    /// Set (or with no address, clear) where an organisation's alerts and notices go.
    Email {
        /// The organisation's name.
        name: String,
        /// The address.
        address: Option<String>,
    },
    /// Show every organisation.
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `schoon orgs`.
pub async fn orgs(args: OrgsArgs) -> Result<()> {
    let store = args.db.open().await?;
    match args.command {
        OrgsCommand::Create { name, kind, email } => {
            let org = store
                .create_org(&name, kind)
                .await
                .with_context(|| format!("creating organisation {name:?}"))?;
            if let Some(e) = email {
                store
                    .set_org_email(org.id, Some(&e))
                    .await
                    .context("setting the e-mail address")?;
            }
            println!(
                "created organisation {} {:?} ({})",
                org.id,
                org.name,
                org.kind.name()
            );
        }
        OrgsCommand::Email { name, address } => {
            let org = store
                .org_by_name(&name)
                .await
                .with_context(|| format!("organisation {name:?}"))?;
            store
                .set_org_email(org.id, address.as_deref())
                .await
                .context("setting the e-mail address")?;
            match address {
                Some(a) => println!("{} mail goes to {a}", org.name),
                None => println!("{} has no e-mail address now", org.name),
            }
        }
        OrgsCommand::List { json } => {
            let orgs = store.orgs().await.context("reading organisations")?;
            if json {
                return db::print_json(&orgs);
            }
            let rows: Vec<Vec<String>> = orgs
                .iter()
                .map(|o| {
                    vec![
                        o.id.to_string(),
                        o.name.clone(),
                        o.kind.name().to_string(),
                        db::when(o.created_at),
                    ]
                })
                .collect();
            db::print_table(&["id", "name", "kind", "created (UTC)"], &rows);
        }
    }
    Ok(())
}

/// Arguments of `schoon keys`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = KEYS_EXAMPLES)]
pub struct KeysArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(subcommand)]
    command: KeysCommand,
}

const KEYS_EXAMPLES: &str = "\
A key acts for one organisation with one role:
  admin         organisations, keys, audit log; every list
  list_manager  create, import and export its own organisation's lists
  analyst       read lists' metadata and versions, check hashes
  hoster        check hashes and images, nothing else

`keys create` prints the key on standard output, and only there, only once: the database keeps
just its SHA-256, so a lost key cannot be shown again (revoke it and make a new one).

Examples:
  The first admin key of a new installation, creating its organisation:
    schoon keys create --org Operator --create-org operator --role admin --name 'ops team'

  A key for a hosting provider's upload scanner, 5000 hashes per second:
    KEY=$(schoon keys create --org 'Example Hosting B.V.' --role hoster --name scanner --rate 5000)

  Every key (never the secrets), then revoke one by its id:
    schoon keys list
    schoon keys revoke k3q9x2m7a1b4c8d5";

#[derive(Debug, clap::Subcommand)]
enum KeysCommand {
    /// Make a key and print it once, on standard output.
    Create(KeyCreateArgs),
    /// Show every key: id, organisation, role, label, rate, created, revoked (never secrets).
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by its id (the part after `schoon_`, before the second `_`).
    Revoke {
        /// The key's public id, or the whole key.
        id: String,
    },
}

#[derive(Debug, clap::Args)]
struct KeyCreateArgs {
    /// The organisation the key acts for (its name).
    #[arg(long, value_name = "NAME")]
    org: String,
    /// What the key may do.
    #[arg(long, value_parser = role_parser())]
    role: Role,
    /// A label for people ("upload scanner, rack 3").
    #[arg(long, value_name = "LABEL", default_value = "")]
    name: String,
    /// Hashes per second this key may check (default: the server's).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    rate: Option<u32>,
    /// Create the organisation, of this kind, if it does not exist yet.
    #[arg(long, value_name = "KIND", value_parser = org_kind_parser())]
    create_org: Option<OrgKind>,
}

async fn org_for_key(store: &dyn Store, args: &KeyCreateArgs) -> Result<Organisation> {
    match store.org_by_name(&args.org).await {
        Ok(org) => return Ok(org),
        Err(lists::Error::NotFound(_)) => {}
        Err(e) => return Err(e).with_context(|| format!("reading organisation {:?}", args.org)),
    }
    let Some(kind) = args.create_org else {
        bail!(
            "no organisation {:?}: create it with `schoon orgs create`, or pass --create-org KIND",
            args.org
        );
    };
    match store.create_org(&args.org, kind).await {
        Ok(org) => {
            eprintln!(
                "schoon: created organisation {} {:?} ({})",
                org.id,
                org.name,
                kind.name()
            );
            Ok(org)
        }
        // Someone else made it in the meantime.
        Err(lists::Error::Conflict(_)) => store
            .org_by_name(&args.org)
            .await
            .with_context(|| format!("reading organisation {:?}", args.org)),
        Err(e) => Err(e).with_context(|| format!("creating organisation {:?}", args.org)),
    }
}

/// A key as `keys list --json` shows it: never the secret, with its organisation's name.
#[derive(serde::Serialize)]
struct KeyJson {
    #[serde(flatten)]
    key: ApiKeyInfo,
    org: String,
}

/// Runs `schoon keys`.
pub async fn keys(args: KeysArgs) -> Result<()> {
    let store = args.db.open().await?;
    match args.command {
        KeysCommand::Create(create) => {
            let org = org_for_key(store.as_ref(), &create).await?;
            let new = NewKey::generate().context("making a key")?;
            let key = ApiKey {
                id: new.id.clone(),
                org_id: org.id,
                role: create.role,
                name: create.name.clone(),
                secret_sha256: new.secret_sha256,
                rate_per_sec: create.rate,
                created_at: Millis::now(),
                revoked_at: None,
            };
            store.insert_key(&key).await.context("storing the key")?;
            println!("{}", new.token());
            eprintln!(
                "schoon: created {} key {} for {:?}. The key above is shown only this once: \
                 store it now (the database keeps only its hash).",
                key.role, key.id, org.name
            );
        }
        KeysCommand::List { json } => {
            let keys = store.keys().await.context("reading keys")?;
            let orgs: HashMap<i64, String> = store
                .orgs()
                .await
                .context("reading organisations")?
                .into_iter()
                .map(|o| (o.id, o.name))
                .collect();
            let org_name = |id: i64| orgs.get(&id).cloned().unwrap_or_else(|| id.to_string());
            if json {
                let out: Vec<KeyJson> = keys
                    .iter()
                    .map(|k| KeyJson {
                        key: ApiKeyInfo::from(k),
                        org: org_name(k.org_id),
                    })
                    .collect();
                return db::print_json(&out);
            }
            let rows: Vec<Vec<String>> = keys
                .iter()
                .map(|k| {
                    vec![
                        k.id.clone(),
                        org_name(k.org_id),
                        k.role.name().to_string(),
                        k.name.clone(),
                        k.rate_per_sec.map(|r| r.to_string()).unwrap_or_default(),
                        db::when(k.created_at),
                        k.revoked_at.map(db::when).unwrap_or_default(),
                    ]
                })
                .collect();
            db::print_table(
                &[
                    "id",
                    "organisation",
                    "role",
                    "name",
                    "rate/s",
                    "created (UTC)",
                    "revoked (UTC)",
                ],
                &rows,
            );
        }
        KeysCommand::Revoke { id } => {
            // Accept the whole key too, without echoing its secret anywhere.
            let id = match lists::keys::ParsedKey::parse(&id) {
                Ok(parsed) => parsed.id,
                Err(_) => id,
            };
            let before = store.key(&id).await.context("reading the key")?;
            let Some(before) = before else {
                bail!("no key {id:?} (see `schoon keys list`)");
            };
            if let Some(at) = before.revoked_at {
                println!("key {id} was already revoked at {} UTC", db::when(at));
                return Ok(());
            }
            let key = store
                .revoke_key(&id)
                .await
                .with_context(|| format!("revoking key {id}"))?;
            println!(
                "revoked key {id} at {} UTC",
                key.revoked_at.map(db::when).unwrap_or_default()
            );
        }
    }
    Ok(())
}
