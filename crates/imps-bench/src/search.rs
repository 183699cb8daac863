//! `imps-bench search`: Search-Request latency per kind of search on a
//! generated directory (issue 16).
//!
//! A server started here gets, before it starts, a population made with
//! the impsd CLI: `impsd user add-many --prefix POP --profiles SEED
//! --msisdn-from NUMBER` (complete, consented public profiles and contact
//! details) and `impsd group add-many` (public groups, a share of them
//! Searchable). The searchers are the bench users (PREFIX0000...), with
//! complete profiles of their own (a profile search needs one, PPR-6).
//! With `--data-dir` the population is kept and reused by later runs
//! with the same sizes, since a million users take minutes to make.
//!
//! Each searcher is one CSP 1.3 session (HTTP binding), closed loop: it
//! sends the next search of a fixed round-robin mix, then StopSearch for
//! the SearchID it got. The latency of a kind is the Search-Request round
//! trip alone; 536 (too many findings, the client refines) counts as an
//! answer, since the server did the search, and is reported per kind.
//!
//! What to search for comes from the population's rules, repeated here
//! (the bench links no server code): city names `City000`..`City199`,
//! the countries, the rare intention, first names and last names from the
//! same syllables, group names `Group N`, MSISDN = NUMBER + N. Friendly
//! names are read from the server (GetPublicProfile) at setup.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use hdrhistogram::Histogram;
use imps_client::{Client, Element, HttpClient, Version, status_of};
use serde_json::{Value, json};

use crate::report::ms;
use crate::runner::{self, Picker, Worker};
use crate::target::{Prepare, Settings};
use crate::{Common, LoginMode};

#[derive(Args, Clone)]
pub struct SearchArgs {
    /// Searcher sessions, logged in before the run; `--concurrency` of
    /// them (all by default) search, each closed loop.
    #[arg(long, default_value_t = 16)]
    searchers: usize,
    /// Users in the generated population.
    #[arg(long, default_value_t = 10_000)]
    population: usize,
    /// Start of the population's user IDs.
    #[arg(long, default_value = "pop")]
    population_prefix: String,
    /// Public groups in the population (owned by population users).
    #[arg(long, default_value_t = 1_000)]
    groups: usize,
    /// Share of the groups that are Searchable.
    #[arg(long, default_value_t = 20)]
    listed_percent: u8,
    /// Seed of the population's profiles.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// MSISDN of population user 0; user N has this number + N.
    #[arg(long, default_value = "+41790000000")]
    msisdn_from: String,
    /// Keep the started server's data here and reuse it in later runs
    /// made with the same population (default: a temporary dir).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

/// The kinds of search, in the order of the mix.
const KINDS: [&str; 9] = [
    "user_id",
    "msisdn",
    "friendly_name",
    "first_last_name",
    "city_age",
    "country_intention",
    "advanced",
    "group_name",
    "group_joined",
];

// The population's rules are `imps_population`'s, as impsd stores them.
use imps_population::{CITIES, COUNTRIES, RARE_INTENTION};

/// What the searchers draw from.
struct World {
    pop_prefix: String,
    population: usize,
    groups: usize,
    msisdn_base: u64,
    /// Friendly names read from the server at setup.
    friendly: Vec<String>,
    /// The searchers' user IDs (each joined one group).
    searchers: Vec<String>,
}

/// Latencies of one kind, in microseconds, and how the server answered.
#[derive(Clone)]
struct KindStats {
    hist: Histogram<u64>,
    too_many: u64,
    found: u64,
}

struct SearchWorker {
    client: HttpClient,
    world: Arc<World>,
    picker: Picker,
    next: usize,
    kinds: Vec<KindStats>,
}

fn pair(i: usize, element: &str, value: &str) -> Element {
    Element::new("SearchPair")
        .with_text("SearchElement", element)
        .with_text("SearchString", value)
        .with_text("PairID", (i + 1).to_string())
}

fn request(pairs: &[(&str, String)], advanced: Option<&str>) -> Element {
    let mut list = Element::new("SearchPairList");
    for (i, (e, v)) in pairs.iter().enumerate() {
        list = list.with(pair(i, e, v));
    }
    let mut r = Element::new("Search-Request").with(list);
    if let Some(a) = advanced {
        r = r.with_text("AdvancedCriteria", a);
    }
    r.with_text("SearchLimit", "20")
}

impl SearchWorker {
    fn below(&mut self, n: usize) -> usize {
        self.picker.below(n)
    }

    fn city(&mut self) -> String {
        imps_population::city_name(self.below(CITIES))
    }

    /// The Search-Request of kind `k`.
    fn search_of(&mut self, k: usize) -> Element {
        let w = self.world.clone();
        let n = self.below(w.population.max(1));
        match KINDS[k] {
            "user_id" => request(&[("USER_ID", format!("{}{n:04}", w.pop_prefix))], None),
            "msisdn" => request(
                &[(
                    "USER_MOBILE_NUMBER",
                    format!("+{}", w.msisdn_base + n as u64),
                )],
                None,
            ),
            "friendly_name" => {
                let name = w.friendly[self.below(w.friendly.len().max(1))].clone();
                request(&[("USER_FRIENDLY_NAME", name)], None)
            }
            "first_last_name" => {
                let first = imps_population::first_name(self.below(imps_population::first_names()));
                let last = imps_population::last_name(self.below(imps_population::last_names()));
                request(
                    &[("USER_FIRST_NAME", first), ("USER_LAST_NAME", last)],
                    None,
                )
            }
            "city_age" => {
                let min = 18 + self.below(50);
                request(
                    &[
                        ("USER_CITY", self.city()),
                        ("USER_AGE_MIN", min.to_string()),
                        ("USER_AGE_MAX", (min + 2).to_string()),
                    ],
                    None,
                )
            }
            "country_intention" => {
                let country = COUNTRIES[self.below(COUNTRIES.len())];
                request(
                    &[
                        ("USER_COUNTRY", country.to_string()),
                        ("USER_INTENTION", RARE_INTENTION.to_string()),
                    ],
                    None,
                )
            }
            "advanced" => {
                let (a, b) = (self.city(), self.city());
                request(
                    &[
                        ("USER_CITY", a),
                        ("USER_CITY", b),
                        ("USER_INTENTION", "networking".into()),
                        ("USER_GENDER", "M".into()),
                        ("USER_AGE_MIN", "30".into()),
                    ],
                    Some("(1 OR 2) AND 3 AND NOT 4 AND 5"),
                )
            }
            "group_name" => {
                let g = self.below(w.groups.max(1));
                request(&[("GROUP_NAME", format!("Group {g}"))], None)
            }
            _ => {
                let s = w.searchers[self.below(w.searchers.len().max(1))].clone();
                request(&[("GROUP_USER_ID_JOINED", s)], None)
            }
        }
    }
}

impl Worker for SearchWorker {
    async fn op(&mut self, _seq: u64) -> anyhow::Result<()> {
        let k = self.next % KINDS.len();
        self.next += 1;
        let req = self.search_of(k);
        let t0 = Instant::now();
        let r = self.client.request(req).await?;
        let us = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
        let code = status_of(&r).map(|(c, _)| c);
        let stats = &mut self.kinds[k];
        match code {
            Some(536) => stats.too_many += 1,
            None | Some(200) if r.name == "Search-Response" => {
                if r.child("SearchResult")
                    .is_some_and(|s| !s.children.is_empty())
                {
                    stats.found += 1;
                }
            }
            _ => anyhow::bail!("{} search answered {code:?}: {r:?}", KINDS[k]),
        }
        stats.hist.saturating_record(us.max(1));
        if let Some(id) = r.child_text("SearchID") {
            let stop = Element::new("StopSearch-Request").with_text("SearchID", id);
            let s = self.client.request(stop).await?;
            let c = status_of(&s).map(|(c, _)| c);
            anyhow::ensure!(c == Some(200), "StopSearch answered {c:?}: {s:?}");
        }
        Ok(())
    }
}

/// Profile of a searcher: complete, so that a profile search is allowed.
fn searcher_profile() -> Element {
    let prop = |n: &str, v: &str| {
        Element::new("Property")
            .with_text("Name", n)
            .with_text("Value", v)
    };
    Element::new("UpdatePublicProfile-Request")
        .with_text("ClearPublicProfile", "F")
        .with(
            Element::new("PublicProfile")
                .with(prop("PP_AGE", "1990-05"))
                .with(prop("PP_COUNTRY", "DE")),
        )
}

/// Friendly names of population users `ids` (at most 32, the server's
/// limit per request), from GetPublicProfile.
async fn friendly_names(c: &HttpClient, ids: &[String]) -> anyhow::Result<Vec<String>> {
    let mut req = Element::new("GetPublicProfile-Request");
    for id in ids {
        req = req.with_text("UserID", id.clone());
    }
    let r = c.request(req).await?;
    if r.child("PublicProfile").is_none() {
        anyhow::bail!("GetPublicProfile answered {r:?}");
    }
    Ok(r.children_named("PublicProfile")
        .flat_map(|p| p.children_named("Property"))
        .filter(|p| p.child_text("Name") == Some("PP_FRIENDLY_NAME"))
        .filter_map(|p| p.child_text("Value").map(str::to_string))
        .collect())
}

/// Finds a Searchable group by name and joins it, so that searches by
/// joined user have something to find.
async fn join_some_group(c: &HttpClient, me: &str, groups: usize) -> anyhow::Result<bool> {
    for g in 0..groups.min(200) {
        let r = c
            .request(request(&[("GROUP_NAME", format!("Group {g}"))], None))
            .await?;
        let found = r
            .path(&["SearchResult", "GroupList"])
            .and_then(|l| l.child_text("GroupID").map(str::to_string));
        if let Some(id) = r.child_text("SearchID") {
            c.request(Element::new("StopSearch-Request").with_text("SearchID", id))
                .await?;
        }
        let Some(group) = found else { continue };
        let join = Element::new("JoinGroup-Request")
            .with_text("GroupID", group.clone())
            .with(
                Element::new("ScreenName")
                    .with_text("SName", me)
                    .with_text("GroupID", group.clone()),
            )
            .with_text("JoinedRequest", "F")
            .with_text("SubscribeNotification", "F");
        let r = c.request(join).await?;
        let code = status_of(&r).map(|(c, _)| c);
        anyhow::ensure!(
            matches!(code, Some(200) | None),
            "joining {group}: {code:?} {r:?}"
        );
        return Ok(true);
    }
    Ok(false)
}

pub async fn run(args: &SearchArgs) -> anyhow::Result<()> {
    let common = &args.common;
    let v = common.version()?;
    anyhow::ensure!(
        v == Version::V1_3,
        "search needs --csp 1.3 (profile searches and AdvancedCriteria are 1.3)"
    );
    let e = common.encoding.wire();
    let searchers = args.searchers.max(1);
    let digits = |m: &str| -> anyhow::Result<u64> { Ok(m.trim_start_matches('+').parse()?) };
    let msisdn_base = digits(&args.msisdn_from)?;
    let pop = |s: &str| s.to_string();
    let prep = Prepare {
        data_dir: args.data_dir.clone(),
        user_args: vec![pop("--profiles"), (args.seed + 1).to_string()],
        commands: vec![
            (
                vec![
                    pop("user"),
                    pop("add-many"),
                    pop("--prefix"),
                    args.population_prefix.clone(),
                    pop("--count"),
                    args.population.to_string(),
                    pop("--profiles"),
                    args.seed.to_string(),
                    pop("--msisdn-from"),
                    args.msisdn_from.clone(),
                ],
                true,
            ),
            (
                vec![
                    pop("group"),
                    pop("add-many"),
                    pop("--count"),
                    args.groups.to_string(),
                    pop("--owner-prefix"),
                    args.population_prefix.clone(),
                    pop("--owners"),
                    args.population.to_string(),
                    pop("--listed-percent"),
                    args.listed_percent.to_string(),
                    pop("--seed"),
                    args.seed.to_string(),
                ],
                false,
            ),
        ],
        users_exist: false,
    };
    // The searchers' profile updates need no consent message, and a load
    // test's users search far more often than the per-user search rate
    // lets people (`search.rate_per_sec`).
    let extra = Settings::default()
        .set("search", "profile_consent", "\"implicit\"".into())
        .set("search", "rate_per_sec", "0".into());
    let target = match &common.url {
        Some(_) => common.target(searchers).await?,
        None => {
            let bin = crate::target::impsd_path(common.impsd.as_deref())?;
            crate::target::Target::spawn_prepared(
                &bin,
                &common.user_prefix,
                searchers,
                common.password.clone(),
                &extra,
                &prep,
            )
            .await?
        }
    };

    // Log in, complete the profile, learn some friendly names, join a
    // group: all before the clock starts.
    let t0 = Instant::now();
    let mut clients = Vec::with_capacity(searchers);
    let mut friendly = Vec::new();
    let mut setup_picker = Picker::new(99);
    for (i, user) in target.users.iter().enumerate() {
        let cfg = target
            .client_config(v, e)
            .with_client_id(format!("WV:imps-bench-search-{i}"));
        let client = Client::with_transport(target.transport(v, e)?, cfg);
        crate::login::login(&client, user, &target.password, LoginMode::Digest).await?;
        let r = client.request(searcher_profile()).await?;
        let code = status_of(&r).map(|(c, _)| c);
        anyhow::ensure!(code == Some(200), "{user}: profile update {code:?}: {r:?}");
        if i < 8 {
            let ids: Vec<String> = (0..30)
                .map(|_| {
                    let n = setup_picker.below(args.population.max(1));
                    format!("{}{n:04}", args.population_prefix)
                })
                .collect();
            friendly.extend(friendly_names(&client, &ids).await?);
        }
        join_some_group(&client, user, args.groups).await?;
        clients.push(client);
    }
    anyhow::ensure!(
        !friendly.is_empty(),
        "no friendly names found in the population"
    );
    eprintln!(
        "{searchers} searchers ready in {:.2} s ({} friendly names)",
        t0.elapsed().as_secs_f64(),
        friendly.len()
    );
    let world = Arc::new(World {
        pop_prefix: args.population_prefix.clone(),
        population: args.population,
        groups: args.groups,
        msisdn_base,
        friendly,
        searchers: target.users.iter().cloned().collect(),
    });
    let blank = KindStats {
        hist: Histogram::new_with_bounds(1, 120_000_000, 3)?,
        too_many: 0,
        found: 0,
    };
    // `--concurrency` searchers search; the others stay logged in (in
    // their groups), so a kept population serves any concurrency.
    let active = common.concurrency.unwrap_or(searchers).clamp(1, searchers);
    let (busy, idle): (Vec<_>, Vec<_>) = clients
        .into_iter()
        .enumerate()
        .partition(|(i, _)| *i < active);
    let workers: Vec<SearchWorker> = busy
        .into_iter()
        .map(|(i, client)| SearchWorker {
            client,
            world: world.clone(),
            picker: Picker::new(i as u64),
            next: i,
            kinds: vec![blank.clone(); KINDS.len()],
        })
        .collect();

    let spec = common.run_spec();
    let cpu0 = target.server_cpu();
    let (stats, workers) = runner::run(&spec, workers).await?;
    let server_cpu = target.server_cpu_since(cpu0);
    let mut kinds = vec![blank; KINDS.len()];
    for w in &workers {
        for (all, mine) in kinds.iter_mut().zip(&w.kinds) {
            all.hist.add(&mine.hist)?;
            all.too_many += mine.too_many;
            all.found += mine.found;
        }
    }
    let all = workers.into_iter().map(|w| w.client);
    for c in all.chain(idle.into_iter().map(|(_, c)| c)) {
        let _ = tokio::time::timeout(Duration::from_secs(5), c.logout()).await;
    }
    let searches: u64 = kinds.iter().map(|k| k.hist.len()).sum();
    let cpu_per_search_us = server_cpu
        .filter(|_| searches > 0)
        .map(|c| c.as_secs_f64() * 1e6 / searches as f64);
    let per_kind: Vec<Value> = KINDS
        .iter()
        .zip(&kinds)
        .map(|(name, k)| {
            json!({
                "kind": name,
                "searches": k.hist.len(),
                "p50_us": k.hist.value_at_quantile(0.5),
                "p99_us": k.hist.value_at_quantile(0.99),
                "max_us": k.hist.max(),
                "with_findings": k.found,
                "too_many_536": k.too_many,
            })
        })
        .collect();
    let report = json!({
        "bench": "search",
        "params": {
            "searchers": searchers,
            "concurrency": active,
            "population": args.population,
            "groups": args.groups,
            "listed_percent": args.listed_percent,
            "encoding": common.encoding.name(),
            "duration_secs": common.duration_secs,
            "server": target.kind(),
        },
        "ok": stats.ok,
        "errors": stats.errors,
        "elapsed_secs": stats.elapsed.as_secs_f64(),
        "searches_per_sec": searches as f64 / stats.elapsed.as_secs_f64().max(1e-9),
        "server_cpu_secs": server_cpu.map(|c| c.as_secs_f64()),
        "server_cpu_per_search_us": cpu_per_search_us,
        "first_error": stats.first_error,
        "kinds": per_kind,
    });
    target.close().await;
    if common.json {
        println!("{report}");
        return Ok(());
    }
    println!(
        "search searchers={searchers} concurrency={active} population={} groups={} ({}% listed) encoding={}",
        args.population,
        args.groups,
        args.listed_percent,
        common.encoding.name()
    );
    println!(
        "  {} searches, {} errors in {:.2} s -> {:.1}/s",
        searches,
        stats.errors,
        stats.elapsed.as_secs_f64(),
        report["searches_per_sec"].as_f64().unwrap_or(0.0)
    );
    if let (Some(cpu), Some(per)) = (server_cpu, cpu_per_search_us) {
        println!(
            "  server cpu {:.2} s, {:.0} us per search (StopSearch included)",
            cpu.as_secs_f64(),
            per
        );
    }
    println!(
        "  {:<18} {:>8} {:>10} {:>10} {:>10} {:>9} {:>6}",
        "kind", "n", "p50", "p99", "max", "findings", "536"
    );
    for (name, k) in KINDS.iter().zip(&kinds) {
        println!(
            "  {:<18} {:>8} {:>10} {:>10} {:>10} {:>9} {:>6}",
            name,
            k.hist.len(),
            ms(k.hist.value_at_quantile(0.5)),
            ms(k.hist.value_at_quantile(0.99)),
            ms(k.hist.max()),
            k.found,
            k.too_many
        );
    }
    if let Some(e) = &stats.first_error {
        println!("  first error: {e}");
    }
    Ok(())
}
