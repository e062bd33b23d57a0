//! Validating jobs against the tables they read, before anything runs: unknown tables and
//! columns, type errors, derive/having/expect over missing columns, duplicate names and
//! targets, cycles. Each plan piece is executed on an empty frame of the source's schema,
//! so every problem is found, attributed to its key, and located (file:line:col).

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;

use super::plan::{aggregate_sql, derive_and_filter, run_sql, SOURCE};
use crate::bronze::frame::{bronze_schema, quarantine_schema};
use crate::lake::catalog::{Catalog, TableKind};
use crate::lake::read::read_schema;
use crate::lake::TableSchema;
use crate::spec::diag::{did_you_mean, Diagnostic, Diagnostics};
use crate::spec::expr::{clean_polars_error, parse_expr};
use crate::spec::job::{parse_jobs, read_job_files, JobQuery, JobSpec};
use crate::spec::source_map::{join_index, join_key};
use crate::spec::{PipelineSpec, SpecError};

/// Jobs that passed every check, in dependency order, with the catalog and the schemas.
#[derive(Debug, Clone)]
pub struct CheckedJobs {
    /// Jobs, each after the jobs it reads.
    pub jobs: Vec<JobSpec>,
    /// Every table.
    pub catalog: Catalog,
    /// Read schema of every table, by catalog name.
    pub schemas: HashMap<String, Schema>,
}

impl CheckedJobs {
    /// The job called `name`.
    pub fn job(&self, name: &str) -> Option<&JobSpec> {
        self.jobs.iter().find(|j| j.name == name)
    }
}

/// Loads the job folder of `spec` and checks every job; all problems reported together.
pub fn load_and_check(spec: &PipelineSpec) -> Result<CheckedJobs, SpecError> {
    let mut diags = Diagnostics::default();
    if !spec.jobs_dir.is_dir() {
        tracing::warn!(folder = %spec.jobs_dir.display(), "the jobs folder does not exist: no silver job is defined (`silver.jobs` in the spec names it)");
    }
    let files = read_job_files(&spec.jobs_dir, &mut diags);
    check_files(spec, &files, diags)
}

/// Checks job files given as (file, text), adding to `diags` (problems found reading them).
pub fn check_files(
    spec: &PipelineSpec,
    files: &[(std::path::PathBuf, String)],
    mut diags: Diagnostics,
) -> Result<CheckedJobs, SpecError> {
    let jobs = parse_jobs(files, &mut diags);
    let checked = check_jobs(spec, jobs, &mut diags);
    match checked {
        Some(c) if diags.is_empty() => Ok(c),
        _ => Err(SpecError::Invalid(diags.sorted())),
    }
}

fn through_delta(schema: &Schema, partition_by: &[String]) -> Result<Schema, String> {
    Ok(read_schema(&TableSchema::from_polars(
        schema,
        partition_by,
    )?))
}

/// Checks `jobs` against the tables of `spec`.
pub fn check_jobs(
    spec: &PipelineSpec,
    jobs: Vec<JobSpec>,
    diags: &mut Diagnostics,
) -> Option<CheckedJobs> {
    let catalog = Catalog::new(spec, &jobs);
    let mut schemas: HashMap<String, Schema> = HashMap::new();
    for b in &spec.bronze {
        if let Ok(s) = bronze_schema(b)
            .map_err(|e| e.to_string())
            .and_then(|s| through_delta(&s, &b.partition_by))
        {
            schemas.insert(b.name.clone(), s);
        }
        if let Ok(s) = through_delta(&quarantine_schema(), &[]) {
            schemas.insert(format!("{}_quarantine", b.name), s);
        }
    }

    // Names and targets are unique, and no job writes a bronze table.
    let mut names: BTreeMap<&str, &JobSpec> = BTreeMap::new();
    let mut targets: BTreeMap<String, &JobSpec> = BTreeMap::new();
    for j in &jobs {
        if let Some(other) = names.insert(&j.name, j) {
            let also = other.file().display();
            let msg = format!("duplicate job name `{}` (also in {also})", j.name);
            diags.push(j.doc.at("name", msg));
        }
        if let Some(c) = j.cluster.as_ref().and_then(|c| c.centres.as_deref()) {
            let c = c.trim_end_matches('/');
            if c == j.to.trim_end_matches('/')
                || spec
                    .bronze
                    .iter()
                    .any(|b| b.table == c || b.quarantine == c)
                || jobs.iter().any(|o| o.to.trim_end_matches('/') == c)
            {
                diags.push(j.doc.at(
                    "cluster.centres",
                    format!("`{c}` is already a table of the lake; the centres need a table of their own"),
                ));
            }
        }
        let to = j.to.trim_end_matches('/').to_string();
        if let Some(other) = targets.insert(to.clone(), j) {
            let (also, file) = (&other.name, other.file().display());
            let msg = format!("table `{to}` is also the target of job `{also}` ({file})");
            diags.push(j.doc.at("to", msg));
        }
        if spec
            .bronze
            .iter()
            .any(|b| b.table == to || b.quarantine == to)
        {
            diags.push(j.doc.at(
                "to",
                format!("`{to}` is a bronze table; a job cannot write it"),
            ));
        }
    }

    // Dependencies: the jobs whose targets a job reads.
    let mut deps: HashMap<String, Vec<String>> = HashMap::new();
    for j in &jobs {
        let mut d = Vec::new();
        match (&j.query, &j.from) {
            (JobQuery::Sql(sql), _) => {
                for t in
                    polars::sql::extract_table_identifiers(sql, false, true).unwrap_or_default()
                {
                    match catalog.resolve(&t) {
                        Some(r) => {
                            if let TableKind::Silver { job } = &r.kind {
                                d.push(job.clone());
                            }
                        }
                        None => diags.push(unknown_table(j, "sql", &t, &catalog)),
                    }
                }
            }
            (_, Some(from)) => match catalog.resolve(from) {
                Some(r) => {
                    if let TableKind::Silver { job } = &r.kind {
                        d.push(job.clone());
                    }
                }
                None => diags.push(unknown_table(j, "from", from, &catalog)),
            },
            _ => {}
        }
        deps.insert(j.name.clone(), d);
    }
    let order = match topo_order(&jobs, &deps) {
        Ok(o) => o,
        Err(cycle) => {
            for name in &cycle {
                if let Some(j) = jobs.iter().find(|j| &j.name == name) {
                    let key = if j.from.is_some() { "from" } else { "sql" };
                    diags.push(j.doc.at(
                        key,
                        format!("jobs read each other in a cycle: {}", cycle.join(" → ")),
                    ));
                }
            }
            return None;
        }
    };

    let mut ordered = Vec::new();
    for name in order {
        let Some(j) = jobs.iter().find(|j| j.name == name) else {
            continue;
        };
        if let Some(out) = check_one(j, &catalog, &schemas, diags) {
            if let Ok(s) = through_delta(&out, &j.partition_by) {
                schemas.insert(j.name.clone(), s);
            }
            if let Some(c) = j.cluster.as_ref().filter(|c| c.centres.is_some()) {
                let mut s = Schema::default();
                s.with_column(c.column.as_str().into(), DataType::Int32);
                s.with_column(super::cluster::CENTRES_SIZE.into(), DataType::UInt64);
                for f in &c.features {
                    s.with_column(f.as_str().into(), DataType::Float64);
                }
                if let Ok(s) = through_delta(&s, &[]) {
                    schemas.insert(format!("{}_centres", j.name), s);
                }
            }
        }
        ordered.push(j.clone());
    }
    Some(CheckedJobs {
        jobs: ordered,
        catalog,
        schemas,
    })
}

fn unknown_table(j: &JobSpec, key: &str, name: &str, catalog: &Catalog) -> Diagnostic {
    let refs = catalog.all_references();
    let mut d = j.doc.at(key, format!("unknown table `{name}`"));
    d = match did_you_mean(name, refs.iter().map(String::as_str)) {
        Some(s) => d.with_hint(format!("did you mean `{s}`?")),
        None => d.with_hint(format!("tables: {}", refs.join(", "))),
    };
    d
}

fn topo_order(
    jobs: &[JobSpec],
    deps: &HashMap<String, Vec<String>>,
) -> Result<Vec<String>, Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut marks: HashMap<&str, Mark> =
        jobs.iter().map(|j| (j.name.as_str(), Mark::New)).collect();
    let mut out = Vec::new();
    fn visit<'a>(
        n: &'a str,
        deps: &'a HashMap<String, Vec<String>>,
        marks: &mut HashMap<&'a str, Mark>,
        stack: &mut Vec<String>,
        out: &mut Vec<String>,
    ) -> Result<(), Vec<String>> {
        match marks.get(n).copied() {
            Some(Mark::Done) | None => return Ok(()),
            Some(Mark::Active) => {
                let start = stack.iter().position(|s| s == n).unwrap_or(0);
                let mut cycle = stack[start..].to_vec();
                cycle.push(n.to_string());
                return Err(cycle);
            }
            Some(Mark::New) => {}
        }
        marks.insert(n, Mark::Active);
        stack.push(n.to_string());
        for d in deps.get(n).map(Vec::as_slice).unwrap_or_default() {
            visit(d, deps, marks, stack, out)?;
        }
        stack.pop();
        marks.insert(n, Mark::Done);
        out.push(n.to_string());
        Ok(())
    }
    for j in jobs {
        visit(&j.name, deps, &mut marks, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}

/// Runs `lf` on empty input; returns the output schema or a clean error.
fn try_empty(lf: LazyFrame) -> Result<Schema, String> {
    lf.collect()
        .map(|df| df.schema().as_ref().clone())
        .map_err(|e| clean_polars_error(&e.to_string()))
}

/// Builds a plan piece and runs it on empty input: its output schema or a clean error.
fn eval(plan: PolarsResult<LazyFrame>) -> Result<Schema, String> {
    plan.map_err(|e| clean_polars_error(&e.to_string()))
        .and_then(try_empty)
}

fn located(j: &JobSpec, path: &str, err: String, columns: &Schema) -> Diagnostic {
    let mut d = j.doc.at(path, format!("`{path}`: {err}"));
    if let Some(missing) = err
        .split('"')
        .nth(1)
        .filter(|_| err.contains("unable to find column") || err.contains("not found"))
    {
        if let Some(s) = did_you_mean(missing, columns.iter_names().map(|n| n.as_str())) {
            d = d.with_hint(format!("did you mean `{s}`?"));
        } else {
            d = d.with_hint(format!(
                "columns: {}",
                columns
                    .iter_names()
                    .map(|n| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    d
}

/// Numeric aggregates over a non-numeric column: Polars would silently return nulls.
fn aggregate_type_error(expr: &str, schema: &Schema) -> Option<String> {
    let e = expr.trim();
    let open = e.find('(')?;
    let func = e[..open].trim().to_ascii_lowercase();
    let arg = e[open + 1..].strip_suffix(')')?.trim().trim_matches('"');
    if ![
        "sum", "avg", "mean", "median", "stddev", "stdev", "variance", "var",
    ]
    .contains(&func.as_str())
    {
        return None;
    }
    let dt = schema.get(arg)?;
    (!dt.is_primitive_numeric())
        .then(|| format!("{func}() needs a numeric column, but `{arg}` is {dt}"))
}

fn check_one(
    j: &JobSpec,
    catalog: &Catalog,
    schemas: &HashMap<String, Schema>,
    diags: &mut Diagnostics,
) -> Option<Schema> {
    let before = diags.mark();
    let out = match &j.query {
        JobQuery::Sql(sql) => {
            let tables: Vec<(String, LazyFrame)> = catalog
                .sql_names()
                .into_iter()
                .filter_map(|(n, t)| {
                    schemas
                        .get(&t.name)
                        .map(|s| (n, DataFrame::empty_with_schema(s).lazy()))
                })
                .collect();
            match eval(run_sql(sql, &tables)) {
                Ok(s) => s,
                Err(e) => {
                    diags.push(j.doc.at("sql", format!("`sql`: {e}")));
                    return None;
                }
            }
        }
        JobQuery::Structured(q) => {
            let src_name = &catalog.resolve(j.from.as_deref()?)?.name;
            let src = schemas.get(src_name)?;
            let empty = || DataFrame::empty_with_schema(src).lazy();
            for (i, g) in q.group_by.iter().enumerate() {
                if src.get(g).is_none() {
                    let mut d = j.doc.at(
                        &join_index("group_by", i),
                        format!("unknown column `{g}` in group_by (source `{src_name}`)"),
                    );
                    if let Some(s) = did_you_mean(g, src.iter_names().map(|n| n.as_str())) {
                        d = d.with_hint(format!("did you mean `{s}`?"));
                    }
                    diags.push(d);
                }
            }
            if let Some(w) = &q.where_ {
                if let Err(e) = parse_expr(w)
                    .map_err(|e| e.to_string())
                    .and_then(|x| try_empty(empty().filter(x)))
                {
                    diags.push(located(j, "where", e, src));
                }
            }
            for (name, e) in &q.aggregate {
                let path = join_key("aggregate", name);
                if let Some(t) = aggregate_type_error(e, src) {
                    diags.push(j.doc.at(&path, format!("`{path}`: {t}")));
                    continue;
                }
                let sql = aggregate_sql(None, &[], &[(name.clone(), e.clone())]);
                if let Err(err) = eval(run_sql(&sql, &[(SOURCE.into(), empty())])) {
                    diags.push(located(j, &path, err, src));
                }
            }
            if !diags.none_since(before) {
                return None;
            }
            let agg = match eval(run_sql(
                &aggregate_sql(q.where_.as_deref(), &q.group_by, &q.aggregate),
                &[(SOURCE.into(), empty())],
            )) {
                Ok(s) => s,
                Err(e) => {
                    diags.push(j.doc.at("aggregate", format!("`aggregate`: {e}")));
                    return None;
                }
            };
            let mut cur = agg;
            for (i, (name, e)) in q.derive.iter().enumerate() {
                let path = join_key("derive", name);
                match eval(derive_and_filter(
                    DataFrame::empty_with_schema(&cur).lazy(),
                    &q.derive[i..=i],
                    None,
                    chrono::Utc::now(),
                )) {
                    Ok(s) => cur = s,
                    Err(err) => {
                        diags.push(located(
                            j,
                            &path,
                            err.replace(&format!("derive `{name}`: "), ""),
                            &cur,
                        ));
                        let _ = e;
                    }
                }
            }
            if let Some(h) = &q.having {
                if let Err(e) = eval(derive_and_filter(
                    DataFrame::empty_with_schema(&cur).lazy(),
                    &[],
                    Some(h),
                    chrono::Utc::now(),
                )) {
                    diags.push(located(j, "having", e.replace("having: ", ""), &cur));
                }
            }
            cur
        }
        JobQuery::Scd2 { where_, scd2 } => {
            let src_name = &catalog.resolve(j.from.as_deref()?)?.name;
            let src = schemas.get(src_name)?;
            let unknown = |path: &str, c: &str| {
                let mut d = j.doc.at(
                    path,
                    format!("unknown column `{c}` in scd2 (source `{src_name}`)"),
                );
                if let Some(s) = did_you_mean(c, src.iter_names().map(|n| n.as_str())) {
                    d = d.with_hint(format!("did you mean `{s}`?"));
                }
                d
            };
            for (key, list) in [("keys", &scd2.keys), ("track", &scd2.track)] {
                for (i, c) in list.iter().enumerate() {
                    if src.get(c).is_none() {
                        diags.push(unknown(&join_index(&join_key("scd2", key), i), c));
                    }
                }
            }
            match src.get(&scd2.order_by) {
                None => diags.push(unknown("scd2.order_by", &scd2.order_by)),
                Some(t) if !(t.is_temporal() || t.is_primitive_numeric()) => diags.push(j.doc.at(
                    "scd2.order_by",
                    format!(
                        "`scd2.order_by` must be a time or a number, but `{}` is {t}",
                        scd2.order_by
                    ),
                )),
                Some(_) => {}
            }
            if !diags.none_since(before) {
                return None;
            }
            let plan = super::scd2::source_rows(
                DataFrame::empty_with_schema(src).lazy(),
                where_.as_deref(),
                scd2,
            )
            .and_then(|rows| super::scd2::versions(rows, scd2));
            match eval(plan) {
                Ok(s) => s,
                Err(e) => {
                    diags.push(located(j, "where", e, src));
                    return None;
                }
            }
        }
    };
    let out = match &j.cluster {
        None => out,
        Some(c) => {
            for (i, f) in c.features.iter().enumerate() {
                let path = join_index("cluster.features", i);
                match out.get(f) {
                    None => diags.push(j.doc.at(
                        &path,
                        format!("`{f}` is not an output column of the job; cluster on its aggregates or derived columns"),
                    )),
                    Some(t) if !t.is_primitive_numeric() => diags.push(j.doc.at(
                        &path,
                        format!("cluster feature `{f}` must be numeric, but it is {t}"),
                    )),
                    Some(_) => {}
                }
            }
            if out.get(&c.column).is_some() {
                diags.push(j.doc.at(
                    "cluster",
                    format!("the cluster column `{}` is already an output column; name another with `cluster.column`", c.column),
                ));
            }
            let mut out = out;
            out.with_column(c.column.as_str().into(), DataType::Int32);
            out
        }
    };
    for x in &j.expect {
        let path = join_key(&join_key("expect", &x.name), "check");
        match parse_expr(&x.check)
            .map_err(|e| e.to_string())
            .and_then(|e| {
                try_empty(
                    DataFrame::empty_with_schema(&out)
                        .lazy()
                        .select([e.alias("__check")]),
                )
            }) {
            Ok(s) if s.get("__check") != Some(&DataType::Boolean) => {
                diags.push(
                    j.doc
                        .at(&path, format!("`{path}` must be a boolean expression")),
                );
            }
            Ok(_) => {}
            Err(e) => diags.push(located(j, &path, e, &out)),
        }
    }
    for (i, p) in j.partition_by.iter().enumerate() {
        if out.get(p).is_none() {
            diags.push(
                j.doc
                    .at(
                        &join_index("partition_by", i),
                        format!("partition column `{p}` is not an output column of the job"),
                    )
                    .with_hint("add it to group_by"),
            );
        }
    }
    if let Err(e) = TableSchema::from_polars(&out, &j.partition_by) {
        diags.push(j.doc.at("to", format!("the output cannot be stored: {e}")));
    }
    diags.none_since(before).then_some(out)
}
