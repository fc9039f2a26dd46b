//! The same behaviour, tested against both backends: SQLite in a temporary file, and a real
//! PostgreSQL server started from the system's binaries for this test run.

use index::{HashKind, Index, Key};
use lists::import::{Mode, Row};
use lists::live::LiveIndex;
use lists::store::{RowSource, SourceStats, VecSource};
use lists::{Category, Error, NewList, OrgKind, Store};
use std::sync::Arc;
use store::testing::TempPostgres;

fn md5(i: u32) -> Key {
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&i.to_be_bytes());
    b[15] = 0x5a;
    Key::new(HashKind::Md5, &b).unwrap()
}

fn pdq(i: u32) -> Key {
    let mut b = [0u8; 32];
    for (j, x) in b.iter_mut().enumerate() {
        *x = (i.wrapping_mul(2_654_435_761).rotate_left(j as u32) >> 3) as u8 ^ j as u8;
    }
    Key::pdq(b)
}

fn rows(keys: &[Key]) -> VecSource {
    VecSource::new(
        keys.iter()
            .map(|k| Row {
                key: *k,
                quality: (k.kind() == HashKind::Pdq).then_some(90),
                ext_ref: Some(format!("ref-{}", &k.to_hex()[..6])),
                confirmations: None,
                hold: None,
            })
            .collect(),
    )
}

async fn setup(store: &dyn Store, name: &str) -> (i64, i64) {
    let org = store.create_org("Politie", OrgKind::Police).await.unwrap();
    let list = store
        .create_list(&NewList {
            name: name.into(),
            owner_org_id: org.id,
            category: Category::new("csam").unwrap(),
            description: "test".into(),
            source: "unit test".into(),
            purpose: Default::default(),
        })
        .await
        .unwrap();
    (org.id, list.id)
}

async fn export_all(store: &dyn Store, list: i64, version: Option<i64>) -> Vec<Key> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = store.export_page(list, version, after, 3).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        out.extend(page.iter().map(|r| r.key));
    }
    out.sort_by_key(|k| k.to_hex());
    out
}

fn sorted(keys: &[Key]) -> Vec<Key> {
    let mut v = keys.to_vec();
    v.sort_by_key(|k| k.to_hex());
    v.dedup();
    v
}

async fn orgs_keys_categories(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let org = s.create_org("Hoster B.V.", OrgKind::Hoster).await.unwrap();
    assert!(matches!(
        s.create_org("Hoster B.V.", OrgKind::Hoster).await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(s.org_by_name("Hoster B.V.").await.unwrap(), org);
    assert!(matches!(s.org(9999).await, Err(Error::NotFound(_))));

    let new = lists::keys::NewKey::generate().unwrap();
    let key = lists::ApiKey {
        id: new.id.clone(),
        org_id: org.id,
        role: lists::Role::Hoster,
        name: "upload scanner".into(),
        secret_sha256: new.secret_sha256,
        rate_per_sec: Some(500),
        created_at: lists::Millis(1),
        revoked_at: None,
    };
    s.insert_key(&key).await.unwrap();
    assert_eq!(s.key(&key.id).await.unwrap().as_ref(), Some(&key));
    assert_eq!(s.key("nope").await.unwrap(), None);
    let revoked = s.revoke_key(&key.id).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(s.keys().await.unwrap().len(), 1);

    let cats: Vec<String> = s
        .categories()
        .await
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(cats, ["csam", "ncii", "other", "terrorism"]);
    s.add_category(&Category::new("fraud").unwrap())
        .await
        .unwrap();
    s.add_category(&Category::new("fraud").unwrap())
        .await
        .unwrap();
    assert_eq!(s.categories().await.unwrap().len(), 5);
}

async fn list_versions_and_history(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let (org, list) = setup(s, "nl-csam").await;
    let bad_cat = s
        .create_list(&NewList {
            name: "x".into(),
            owner_org_id: org,
            category: Category::new("nonsense").unwrap(),
            description: String::new(),
            source: String::new(),
            purpose: Default::default(),
        })
        .await;
    assert!(matches!(bad_cat, Err(Error::Invalid(_))), "{bad_cat:?}");
    let dup = s
        .create_list(&NewList {
            name: "nl-csam".into(),
            owner_org_id: org,
            category: Category::new("csam").unwrap(),
            description: String::new(),
            source: String::new(),
            purpose: Default::default(),
        })
        .await;
    assert!(matches!(dup, Err(Error::Conflict(_))), "{dup:?}");

    // v1: add 10 md5 + 5 pdq, with duplicates in the input.
    let mut v1: Vec<Key> = (0..10).map(md5).chain((0..5).map(pdq)).collect();
    v1.extend([md5(3), pdq(2), md5(3)]);
    let out = s
        .import(list, Mode::Add, "test", "v1.csv", &mut rows(&v1))
        .await
        .unwrap();
    assert_eq!(out.source.rows, 18);
    assert_eq!((out.distinct, out.added, out.removed), (15, 15, 0));
    assert_eq!(out.list_version, 1);
    let v = out.version.unwrap();
    assert_eq!(
        (v.version, v.added, v.removed, v.note.as_str()),
        (1, 15, 0, "v1.csv")
    );
    assert_eq!(s.entry_counts(list).await.unwrap(), [10, 0, 0, 5]);

    // The same file again changes nothing, and writes no version.
    let again = s
        .import(list, Mode::Add, "test", "v1.csv", &mut rows(&v1))
        .await
        .unwrap();
    assert_eq!((again.added, again.removed, again.list_version), (0, 0, 1));
    assert!(again.version.is_none());

    // v2: replace with md5 5..15: adds 10..15, removes 0..5 and all PDQ.
    let v2: Vec<Key> = (5..15).map(md5).collect();
    let out = s
        .import(list, Mode::Replace, "test", "", &mut rows(&v2))
        .await
        .unwrap();
    assert_eq!((out.added, out.removed, out.list_version), (5, 10, 2));
    // v3: remove md5 5 and one that is not there.
    let out = s
        .import(
            list,
            Mode::Remove,
            "test",
            "",
            &mut rows(&[md5(5), md5(99)]),
        )
        .await
        .unwrap();
    assert_eq!((out.added, out.removed, out.list_version), (0, 1, 3));
    // v4: re-add md5 0.
    s.import(list, Mode::Add, "test", "", &mut rows(&[md5(0)]))
        .await
        .unwrap();

    assert_eq!(export_all(s, list, Some(1)).await, sorted(&v1));
    assert_eq!(export_all(s, list, Some(2)).await, sorted(&v2));
    let v3: Vec<Key> = (6..15).map(md5).collect();
    assert_eq!(export_all(s, list, Some(3)).await, sorted(&v3));
    let mut v4 = v3.clone();
    v4.push(md5(0));
    assert_eq!(export_all(s, list, None).await, sorted(&v4));
    assert_eq!(export_all(s, list, Some(0)).await, Vec::<Key>::new());

    let versions = s.versions(list).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(versions[1].mode, Mode::Replace);
    assert!(versions.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(s.list(list).await.unwrap().version, 4);

    let history = s.entry_history(list, &md5(0)).await.unwrap();
    let spans: Vec<_> = history
        .iter()
        .map(|p| (p.added_version, p.removed_version))
        .collect();
    assert_eq!(spans, [(1, Some(2)), (4, None)]);
    let page = s.export_page(list, None, 0, 100).await.unwrap();
    let r = page.iter().find(|r| r.key == md5(6)).unwrap();
    assert_eq!(
        r.ext_ref.as_deref(),
        Some(&md5(6).to_hex()[..6])
            .map(|h| format!("ref-{h}"))
            .as_deref()
    );
}

/// A source that fails after some rows, as a dropped connection or a bad file would.
struct Failing {
    sent: bool,
    fail_at_finish: bool,
}

#[async_trait::async_trait]
impl RowSource for Failing {
    async fn next_batch(&mut self, _max: usize) -> lists::Result<Vec<Row>> {
        if !self.sent {
            self.sent = true;
            return Ok((100..2600)
                .map(md5)
                .map(|key| Row {
                    key,
                    quality: None,
                    ext_ref: None,
                    confirmations: None,
                    hold: None,
                })
                .collect());
        }
        if self.fail_at_finish {
            Ok(Vec::new())
        } else {
            Err(Error::Input("connection reset".into()))
        }
    }
    fn finish(&mut self) -> lists::Result<SourceStats> {
        Err(Error::InvalidFile {
            errors: Vec::new(),
            total: 1,
        })
    }
}

async fn failed_imports_change_nothing(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let (_, list) = setup(s, "atomic").await;
    s.import(list, Mode::Add, "t", "", &mut rows(&[md5(1)]))
        .await
        .unwrap();
    let seq = s.current_seq().await.unwrap();
    for fail_at_finish in [false, true] {
        let r = s
            .import(
                list,
                Mode::Replace,
                "t",
                "",
                &mut Failing {
                    sent: false,
                    fail_at_finish,
                },
            )
            .await;
        assert!(r.is_err());
        assert_eq!(s.list(list).await.unwrap().version, 1);
        assert_eq!(export_all(s, list, None).await, vec![md5(1)]);
        assert_eq!(s.current_seq().await.unwrap(), seq);
    }
    // The store is still usable afterwards (the staging table was reset).
    let out = s
        .import(list, Mode::Add, "t", "", &mut rows(&[md5(2)]))
        .await
        .unwrap();
    assert_eq!((out.added, out.distinct), (1, 1));
}

async fn change_feed_follows(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let (org, a) = setup(s, "feed-a").await;
    let b = s
        .create_list(&NewList {
            name: "feed-b".into(),
            owner_org_id: org,
            category: Category::new("terrorism").unwrap(),
            description: String::new(),
            source: String::new(),
            purpose: Default::default(),
        })
        .await
        .unwrap()
        .id;
    let start = s.current_seq().await.unwrap();
    let ka: Vec<Key> = (0..50).map(pdq).chain((0..50).map(md5)).collect();
    s.import(a, Mode::Add, "t", "", &mut rows(&ka))
        .await
        .unwrap();
    let live = LiveIndex::load(s, |_| {}).await.unwrap();
    assert_eq!(live.snapshot().index.len(), 100);
    assert_eq!(live.snapshot().seq, start + 1);

    s.import(
        b,
        Mode::Add,
        "t",
        "",
        &mut rows(&[pdq(7), md5(7), md5(1000)]),
    )
    .await
    .unwrap();
    s.import(a, Mode::Remove, "t", "", &mut rows(&[pdq(1), md5(1)]))
        .await
        .unwrap();
    let page = s.changes_page(start + 3, 0, 10).await.unwrap();
    assert_eq!(page.len(), 2);
    assert!(page.iter().all(|c| !c.added));
    assert_eq!(live.refresh(s).await.unwrap(), 5);
    assert_eq!(live.refresh(s).await.unwrap(), 0);

    let snap = live.snapshot();
    let mut expected = Vec::new();
    let mut after = 0;
    loop {
        let page = s.index_page(after, 7).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        expected.extend(page.iter().map(|r| (r.key, r.list)));
    }
    let rebuilt = Index::build(expected);
    assert_eq!(snap.index.len(), rebuilt.len());
    let mut hits = Vec::new();
    snap.check(&pdq(7), 0, &mut hits);
    let names: Vec<&str> = hits.iter().map(|m| m.list.name.as_str()).collect();
    assert_eq!(names, ["feed-a", "feed-b"]);
    assert_eq!(hits[1].list.category.as_str(), "terrorism");
    snap.check(&pdq(1), 31, &mut hits);
    assert!(hits.is_empty(), "{hits:?}");
    snap.check(&md5(1000), 31, &mut hits);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].list.version, 1);
}

async fn audit_log(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let recs: Vec<lists::AuditRecord> = (0..5)
        .map(|i| lists::AuditRecord {
            at: lists::Millis(1000 + i),
            key_id: "k".into(),
            org_id: 1,
            action: "check".into(),
            count: 10,
            matches: i,
            detail: "{}".into(),
        })
        .collect();
    s.append_audit(&recs).await.unwrap();
    let newest = s.audit(None, 3).await.unwrap();
    assert_eq!(
        newest.iter().map(|(_, r)| r.matches).collect::<Vec<_>>(),
        [4, 3, 2]
    );
    let older = s.audit(Some(newest[2].0), 10).await.unwrap();
    assert_eq!(
        older.iter().map(|(_, r)| r.matches).collect::<Vec<_>>(),
        [1, 0]
    );
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let url = format!("sqlite://{}", dir.path().join("t.db").display());
                    super::$name(store::open(&url).await.unwrap()).await;
                }
            )*
        }

        /// One throwaway server for all scenarios, a fresh database for each.
        #[tokio::test(flavor = "multi_thread")]
        async fn postgres_all_scenarios() {
            if TempPostgres::skipped() {
                eprintln!("SCHOON_SKIP_PG=1: skipping the PostgreSQL scenarios");
                return;
            }
            let pg = TempPostgres::start().expect("start PostgreSQL");
            $(
                let url = pg.fresh_database(stringify!($name)).unwrap();
                $name(store::open(&url).await.unwrap()).await;
            )*
        }
    };
}

scenarios!(
    orgs_keys_categories,
    list_versions_and_history,
    failed_imports_change_nothing,
    change_feed_follows,
    audit_log,
);
