//! Errors as the command line shows them: a message, a hint, an exit code.

use std::io::Write;

use trailseal::StoreError;
use trailseal::secret::SecretError;

/// Exit code: verified / success.
pub(crate) const EXIT_OK: u8 = 0;
/// Exit code: tampering detected.
pub(crate) const EXIT_TAMPERED: u8 = 1;
/// Exit code: unverifiable, usage error or failure.
pub(crate) const EXIT_ERROR: u8 = 2;

/// A failed command.
#[derive(Debug)]
pub(crate) struct CliError {
    message: String,
    hint: Option<String>,
    code: u8,
}

impl CliError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            code: EXIT_ERROR,
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Puts what the user asked for in front of the message: `--older-than 26w: …`.
    pub(crate) fn context(mut self, what: &str) -> Self {
        if !self.message.is_empty() {
            self.message = format!("{what}: {}", self.message);
        }
        self
    }

    /// Adds `hint` after the hint already given, if any.
    pub(crate) fn add_hint(mut self, hint: impl Into<String>) -> Self {
        let hint = hint.into();
        self.hint = Some(match self.hint.take() {
            Some(first) => format!("{first}\nhint: {hint}"),
            None => hint,
        });
        self
    }

    pub(crate) fn exit(mut self, code: u8) -> Self {
        self.code = code;
        self
    }

    pub(crate) fn exit_code(&self) -> u8 {
        self.code
    }

    pub(crate) fn report(&self) {
        if self.is_silent() {
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "error: {}", self.message);
        if let Some(hint) = &self.hint {
            let _ = writeln!(err, "hint: {hint}");
        }
    }

    /// The error for a missing secret.
    pub(crate) fn no_secret() -> Self {
        CliError::new("no secret: the chain secret is needed to append and verify").hint(
            "export WEAVER_KERNEL_SECRET=<the secret the store is written with>, or pass --secret-file PATH",
        )
    }
}

/// What to do about a store error, when there is something to say.
pub(crate) fn store_hint(e: &StoreError) -> Option<&'static str> {
    match e {
        StoreError::NotFound { .. } => {
            Some("check the --store path (`trailseal demo` creates a sample store)")
        }
        StoreError::UnknownStore { .. } => {
            Some("pass --format sqlite or --format jsonl if the file name misleads")
        }
        StoreError::NewerVersion { .. } => Some("upgrade trailseal to read this store"),
        StoreError::DuplicateActionId { .. } => Some("every trace needs a unique action_id"),
        StoreError::AppendTorn { .. } => Some(
            "`trailseal repair --store STORE` removes the interrupted write once the records before it verify",
        ),
        StoreError::TornTail { .. } => Some(
            "an append was interrupted; `trailseal repair --store STORE` removes the incomplete line once the records before it verify",
        ),
        StoreError::RecordTooLarge { .. } => Some(
            "pass a higher --max-record-bytes (and to every command that reads the store), or append smaller traces",
        ),
        StoreError::BadHead { .. } => Some("run `trailseal verify` to see which record is damaged"),
        StoreError::Conflict { .. } => {
            Some("another writer changed the store meanwhile; run the command again")
        }
        StoreError::Schema { .. } => Some(
            "the store's schema holds an object that can hide or rewrite records; `trailseal verify` shows the verdict",
        ),
        StoreError::BadMeta { .. } | StoreError::NotKept { .. } => {
            Some("run `trailseal verify` to see what the store holds")
        }
        StoreError::NotEmpty { .. } => Some(
            "migrate into a new store or an empty one (`trailseal verify --store DEST` shows what the destination holds)",
        ),
        #[cfg(feature = "postgres")]
        StoreError::LockTimeout { .. } => Some(
            "another session holds the chain's lock: a long prune or migrate, or a session that is not a writer at all (any role that can connect can take an advisory lock; see README, PostgreSQL); `SELECT pg_terminate_backend(PID)` ends a stray one; `?lock_timeout=30s` in the URL waits longer",
        ),
        #[cfg(feature = "postgres")]
        StoreError::Postgres { .. } => Some(
            "check the server and the URL; an append that failed can be retried: traces already stored are refused by action_id",
        ),
        _ => None,
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        // Damage found while reading or writing: the exit code of a tampered verdict.
        let damaged = matches!(
            e,
            StoreError::Schema { .. } | StoreError::BadMeta { .. } | StoreError::NotKept { .. }
        );
        let err = CliError::new(e.to_string());
        let err = if damaged {
            err.exit(EXIT_TAMPERED)
        } else {
            err
        };
        match store_hint(&e) {
            Some(h) => err.hint(h),
            None => err,
        }
    }
}

impl From<trailseal::Error> for CliError {
    fn from(e: trailseal::Error) -> Self {
        match e {
            trailseal::Error::Store(e) => e.into(),
            trailseal::Error::NoSecret => CliError::no_secret(),
            trailseal::Error::WrongKey { .. } => CliError::new(e.to_string())
                .hint("use the secret this store was written with (see `trailseal verify`)"),
            trailseal::Error::WeakSecret { .. } => CliError::new(e.to_string()).hint(
                "`trailseal keygen --secret --out FILE` writes 32 random bytes (as 43 characters of base64url, mode 0600) to use with --secret-file FILE or as WEAVER_KERNEL_SECRET",
            ),
            trailseal::Error::KeysNotHeld { .. } => CliError::new(e.to_string()).hint(
                "give every secret the store was written with: WEAVER_KERNEL_SECRETS='{\"old\": …, \"new\": …}' with WEAVER_KERNEL_ACTIVE_KEY, or --secret-file for each with --active-key",
            ),
            trailseal::Error::AnchorConflict { .. } => CliError::new(e.to_string())
                .hint("the anchor proves tampering: run `trailseal verify` with it (`--anchor FILE --public-key KEY.pub`) for the verdict; anchors are never replaced")
                .exit(EXIT_TAMPERED),
            trailseal::Error::AnchorExists { .. } => CliError::new(e.to_string())
                .hint("anchors are write-once; choose another --out (or --anchor-dir)"),
            other => CliError::new(other.to_string()),
        }
    }
}

impl From<SecretError> for CliError {
    fn from(e: SecretError) -> Self {
        CliError::new(e.to_string()).hint(
            "the secret is text: set WEAVER_KERNEL_SECRET or write it to a file for --secret-file",
        )
    }
}

/// Output errors: a closed pipe (`trailseal list | head`) ends the command quietly.
pub(crate) fn output(e: std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        CliError {
            message: String::new(),
            hint: None,
            code: EXIT_OK,
        }
    } else {
        CliError::new(format!("cannot write output: {e}"))
    }
}

impl CliError {
    /// Whether this is the quiet end of a closed pipe.
    pub(crate) fn is_silent(&self) -> bool {
        self.message.is_empty()
    }
}
