//! `trailseal demo`: the main job, end to end, on the embedded default (SQLite).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use trailseal::core::trace::TraceLimits;
use trailseal::store::atomic::{PRIVATE, write_new};
use trailseal::{AuditLog, ChainKey, OpenMode, OpenOptions, Verdict, now};

use super::{load_key, verdict_exit};
use crate::cli::SecretArgs;
use crate::error::{CliError, EXIT_OK, output};
use crate::output::verdict_text;

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Where to create the demo store.
    #[arg(long, value_name = "PATH", default_value = "audit.db")]
    pub(crate) store: PathBuf,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
}

/// (principal, capability, sensitivity, response_mode, driver, args, outcome)
/// where outcome is Ok(result_summary) or Err((event_type, error, reason_code)).
type Action = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Outcome,
);

enum Outcome {
    Ok { rows: u32, facts: u32 },
    Failed(&'static str),
    Denied(&'static str, &'static str),
    Expand,
}

const ACTIONS: &[Action] = &[
    (
        "agent:support-bot",
        "crm.search_customers",
        "PII",
        "table",
        "http",
        r#"{"query":"Acme GmbH","limit":10}"#,
        Outcome::Ok { rows: 3, facts: 3 },
    ),
    (
        "agent:support-bot",
        "crm.get_ticket",
        "PII",
        "summary",
        "http",
        r#"{"ticket_id":"T-88412"}"#,
        Outcome::Ok { rows: 1, facts: 6 },
    ),
    (
        "agent:support-bot",
        "email.send",
        "PII",
        "summary",
        "smtp",
        r#"{"to":"ops@acme.example","subject":"Your ticket T-88412","template":"ticket-update"}"#,
        Outcome::Ok { rows: 0, facts: 1 },
    ),
    (
        "agent:finance-assistant",
        "billing.list_invoices",
        "PCI",
        "table",
        "http",
        r#"{"customer_id":"C-1042","status":"open"}"#,
        Outcome::Ok { rows: 4, facts: 4 },
    ),
    (
        "agent:finance-assistant",
        "billing.get_invoice",
        "PCI",
        "summary",
        "http",
        r#"{"invoice_id":"INV-2026-0042"}"#,
        Outcome::Ok { rows: 1, facts: 9 },
    ),
    (
        "agent:finance-assistant",
        "billing.issue_refund",
        "PCI",
        "summary",
        "http",
        r#"{"invoice_id":"INV-2026-0042","amount_eur":129.0,"reason":"duplicate charge"}"#,
        Outcome::Ok { rows: 1, facts: 2 },
    ),
    (
        "agent:finance-assistant",
        "billing.issue_refund",
        "PCI",
        "summary",
        "http",
        r#"{"invoice_id":"INV-2026-0057","amount_eur":4800.0,"reason":"goodwill"}"#,
        Outcome::Denied(
            "amount exceeds the agent's refund limit of 500.00 EUR",
            "limit_exceeded",
        ),
    ),
    (
        "agent:devops-runner",
        "github.list_pull_requests",
        "NONE",
        "table",
        "http",
        r#"{"repo":"acme/payments","state":"open"}"#,
        Outcome::Ok { rows: 7, facts: 7 },
    ),
    (
        "agent:devops-runner",
        "ci.rerun_job",
        "NONE",
        "summary",
        "http",
        r#"{"pipeline":"payments-main","job":"integration-tests"}"#,
        Outcome::Failed("upstream returned 429 Too Many Requests"),
    ),
    (
        "agent:devops-runner",
        "ci.rerun_job",
        "NONE",
        "summary",
        "http",
        r#"{"pipeline":"payments-main","job":"integration-tests"}"#,
        Outcome::Ok { rows: 1, facts: 1 },
    ),
    (
        "agent:devops-runner",
        "secrets.read",
        "SECRETS",
        "raw",
        "vault",
        r#"{"path":"kv/payments/stripe_api_key"}"#,
        Outcome::Denied(
            "capability secrets.read requires a human approval",
            "approval_required",
        ),
    ),
    (
        "agent:support-bot",
        "kb.search",
        "NONE",
        "handle_only",
        "memory",
        r#"{"query":"refund policy EU","top_k":5}"#,
        Outcome::Ok { rows: 5, facts: 5 },
    ),
    (
        "agent:support-bot",
        "kb.search",
        "NONE",
        "table",
        "memory",
        r#"{"handle":"h-kb-7"}"#,
        Outcome::Expand,
    ),
    (
        "user:alice@acme.example",
        "calendar.create_event",
        "PII",
        "summary",
        "http",
        r#"{"title":"Refund review","attendees":["alice@acme.example","bob@acme.example"],"start":"2026-12-01T10:00:00+01:00"}"#,
        Outcome::Ok { rows: 1, facts: 1 },
    ),
    (
        "agent:finance-assistant",
        "db.query",
        "PCI",
        "table",
        "postgres",
        r#"{"sql":"SELECT id, amount FROM refunds WHERE created_at > $1","params":["2026-11-01"]}"#,
        Outcome::Ok {
            rows: 12,
            facts: 12,
        },
    ),
    (
        "agent:devops-runner",
        "fs.read_file",
        "NONE",
        "raw",
        "local",
        r#"{"path":"/srv/payments/config/limits.yaml"}"#,
        Outcome::Ok { rows: 1, facts: 1 },
    ),
    (
        "agent:support-bot",
        "crm.update_contact",
        "PII",
        "summary",
        "http",
        r#"{"contact_id":"P-5521","fields":{"phone":"+49 30 1234567"}}"#,
        Outcome::Failed("validation error: phone number is not in E.164 format"),
    ),
    (
        "agent:support-bot",
        "crm.update_contact",
        "PII",
        "summary",
        "http",
        r#"{"contact_id":"P-5521","fields":{"phone":"+49301234567"}}"#,
        Outcome::Ok { rows: 1, facts: 1 },
    ),
    (
        "agent:finance-assistant",
        "email.send",
        "PII",
        "summary",
        "smtp",
        r#"{"to":"billing@acme.example","subject":"Refund of 129.00 EUR issued","template":"refund-confirmation"}"#,
        Outcome::Ok { rows: 0, facts: 1 },
    ),
    (
        "agent:devops-runner",
        "http.fetch",
        "NONE",
        "summary",
        "http",
        r#"{"url":"https://status.example.com/api/v2/status.json"}"#,
        Outcome::Ok { rows: 1, facts: 2 },
    ),
];

fn uuid4() -> Result<String, CliError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| CliError::new(format!("cannot draw random bytes: {e}")))?;
    b[6] = (b[6] & 0x0F) | 0x40;
    b[8] = (b[8] & 0x3F) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

fn trace_json(action: &Action, invoked_at: &str) -> Result<String, CliError> {
    let (principal, capability, sensitivity, mode, driver, args, outcome) = action;
    let action_id = uuid4()?;
    let (token, event, error, reason, summary, handle) = match outcome {
        Outcome::Ok { rows, facts } => (
            format!("\"tok-{}\"", &action_id[..8]),
            "invoke",
            "null".to_owned(),
            "null",
            format!(
                r#"{{"fact_count":{facts},"row_count":{rows},"warning_count":0,"has_handle":{}}}"#,
                *mode == "handle_only"
            ),
            if *mode == "handle_only" {
                "\"h-kb-7\""
            } else {
                "null"
            },
        ),
        Outcome::Failed(msg) => (
            format!("\"tok-{}\"", &action_id[..8]),
            "invoke",
            format!("{msg:?}"),
            "null",
            "null".to_owned(),
            "null",
        ),
        Outcome::Denied(msg, code) => (
            "\"\"".to_owned(),
            "deny",
            format!("{msg:?}"),
            *code,
            "null".to_owned(),
            "null",
        ),
        Outcome::Expand => (
            format!("\"tok-{}\"", &action_id[..8]),
            "expand",
            "null".to_owned(),
            "null",
            r#"{"fact_count":5,"row_count":5,"warning_count":0,"has_handle":true}"#.to_owned(),
            "\"h-kb-7\"",
        ),
    };
    let reason = if reason == "null" {
        "null".to_owned()
    } else {
        format!("{reason:?}")
    };
    Ok(format!(
        r#"{{"action_id":"{action_id}","capability_id":"{capability}","principal_id":"{principal}","token_id":{token},"invoked_at":"{invoked_at}","args":{args},"response_mode":"{mode}","driver_id":"{driver}","handle_id":{handle},"error":{error},"result_summary":{summary},"sensitivity":"{sensitivity}","event_type":"{event}","reason_code":{reason}}}"#
    ))
}

/// The copies the demo tampers with, in a private temporary directory (mode 0700, a random name:
/// nothing another user plants in /tmp is followed), removed with it.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Result<Self, CliError> {
        tempfile::Builder::new()
            .prefix("trailseal-demo-")
            .tempdir()
            .map(Scratch)
            .map_err(|e| CliError::new(format!("cannot create a temporary directory: {e}")))
    }

    fn tampered_copy(&self, store: &Path, name: &str) -> Result<PathBuf, CliError> {
        let path = self.0.path().join(format!("{name}.db"));
        // Checkpoint the WAL into the main file so a plain file copy holds every record.
        let conn = rusqlite::Connection::open(store)
            .map_err(|e| CliError::new(format!("{}: {e}", store.display())))?;
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| CliError::new(format!("{}: {e}", store.display())))?;
        drop(conn);
        std::fs::copy(store, &path)
            .map_err(|e| CliError::new(format!("{}: cannot copy: {e}", path.display())))?;
        Ok(path)
    }
}

fn sql(path: &Path, statement: &str) -> Result<(), CliError> {
    rusqlite::Connection::open(path)
        .and_then(|c| c.execute_batch(statement))
        .map_err(|e| CliError::new(format!("{}: {e}", path.display())))
}

fn verify_path(path: &Path, key: &ChainKey) -> Result<Verdict, CliError> {
    let location = path.to_string_lossy().into_owned();
    Ok(AuditLog::open(&location, &OpenOptions::default())?
        .with_key(key.clone())
        .verify())
}

pub(crate) fn run(args: &DemoArgs) -> Result<u8, CliError> {
    let store = &args.store;
    let location = store.to_string_lossy().into_owned();
    if store.exists() {
        return Err(CliError::new(format!(
            "{location}: already exists; the demo creates a new store"
        ))
        .hint("remove it, or pass --store NEW.db"));
    }
    let mut out = std::io::stdout().lock();
    let mut say = |text: String| writeln!(out, "{text}").map_err(output);

    let key = match load_key(&args.secret)?
        .and_then(|ring| ring.active().or_else(|| ring.keys().next()).cloned())
    {
        Some(key) => {
            say("using the chain secret from --secret-file / WEAVER_KERNEL_SECRET".into())?;
            key
        }
        None => {
            let secret_path = PathBuf::from(format!("{location}.secret"));
            if secret_path.exists() {
                // Left by an earlier demo whose store was deleted: use it rather than trip over it.
                let key = trailseal::secret::key_from_file(&secret_path)
                    .map_err(|e| CliError::new(e.to_string()))?;
                say(format!(
                    "no WEAVER_KERNEL_SECRET set: using the demo secret already in {}",
                    secret_path.display()
                ))?;
                key
            } else {
                let mut raw = [0u8; 32];
                getrandom::fill(&mut raw)
                    .map_err(|e| CliError::new(format!("cannot draw random bytes: {e}")))?;
                let secret: String = raw.iter().map(|b| format!("{b:02x}")).collect();
                write_secret_file(&secret_path, &secret)?;
                say(format!(
                    "no WEAVER_KERNEL_SECRET set: generated a random demo secret in {} (mode 0600)",
                    secret_path.display()
                ))?;
                ChainKey::from_secret(secret.as_bytes())
                    .map_err(|e| CliError::new(e.to_string()))?
            }
        }
    };

    if key.strength().too_short_for_new_store() {
        return Err(trailseal::Error::WeakSecret { location }.into());
    }

    // 1. Record.
    let options = OpenOptions {
        mode: OpenMode::Write { create: true },
        ..OpenOptions::default()
    };
    let mut log = AuditLog::open(&location, &options)?
        .with_key(key.clone())
        .with_limits(TraceLimits::default());
    let start = now().saturating_add_micros(-(ACTIONS.len() as i64) * 47_000_000);
    let mut texts = Vec::with_capacity(ACTIONS.len());
    for (i, action) in ACTIONS.iter().enumerate() {
        let at =
            start.saturating_add_micros(i as i64 * 47_000_000 + (i as i64 * 7919 % 1000) * 1000);
        texts.push(trace_json(action, &at.to_python_isoformat())?);
    }
    let prepared = log.prepare(texts.iter().map(String::as_bytes))?;
    // The first half one at a time (each durable on return), the rest as one batch.
    let half = prepared.len() / 2;
    for t in prepared.get(..half).unwrap_or_default() {
        log.append(std::slice::from_ref(t))?;
    }
    log.append(prepared.get(half..).unwrap_or_default())?;
    say(format!(
        "\n1. recorded {} agent actions (support, finance and devops agents; 2 denials, 2 failures) into {location}",
        prepared.len()
    ))?;

    // 2. Verify.
    let verdict = log.verify();
    say(format!(
        "\n2. verified the chain:\n{}",
        indent(&verdict_text(&verdict, &location))
    ))?;
    if !verdict.is_verified() {
        return Ok(verdict_exit(&verdict));
    }

    // 3. Tamper with copies and verify them.
    say("\n3. tampering with copies of the store (the original is untouched):".into())?;
    let scratch = Scratch::new()?;
    let edited = scratch.tampered_copy(store, "edit")?;
    sql(
        &edited,
        "UPDATE traces SET payload = replace(payload, '\"amount_eur\":129.0', '\"amount_eur\":12900.0') WHERE seq = 5;",
    )?;
    let v = verify_path(&edited, &key)?;
    say(format!(
        "   a) an insider raises the refund in seq 5 from 129.00 to 12900.00 EUR with one SQL UPDATE:\n{}",
        indent(&indent(&verdict_text(&v, "the copy")))
    ))?;
    let deleted = scratch.tampered_copy(store, "delete")?;
    sql(&deleted, "DELETE FROM traces WHERE seq = 10;")?;
    let v2 = verify_path(&deleted, &key)?;
    say(format!(
        "   b) someone deletes the denied secrets.read attempt (seq 10):\n{}",
        indent(&indent(&verdict_text(&v2, "the copy")))
    ))?;
    let caught = matches!(v, Verdict::Tampered(_)) && matches!(v2, Verdict::Tampered(_));
    let refund = prepared.get(5).map_or("ACTION_ID", |t| t.action_id());

    let secret_flag = if args.secret.secret_file.is_empty()
        && std::env::var_os(trailseal::secret::SECRET_ENV).is_none()
    {
        format!(" --secret-file {location}.secret")
    } else {
        String::new()
    };
    say(format!(
        "\nnext: trailseal verify --store {location}{secret_flag} --json\n      trailseal list --store {location}\n      trailseal show {refund} --store {location}"
    ))?;
    if caught {
        Ok(EXIT_OK)
    } else {
        Err(CliError::new(
            "the demo's tampering was not detected; this is a bug",
        ))
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("   {l}\n"))
        .collect::<String>()
        .trim_end()
        .to_owned()
}

fn write_secret_file(path: &Path, secret: &str) -> Result<(), CliError> {
    let text = zeroize::Zeroizing::new(format!("{secret}\n"));
    write_new(path, PRIVATE, text.as_bytes()).map_err(|e| {
        CliError::new(format!(
            "{}: cannot create the demo secret file: {e}",
            path.display()
        ))
        .hint("remove it, or pass --store NEW.db")
    })
}
