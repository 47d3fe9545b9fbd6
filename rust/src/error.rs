//! Why a frame was refused. Failures are plain Rust values (the decoder holds no PyO3 type); the
//! Python layer turns them into exceptions in one place (`build.rs`).
//!
//! Failures are boxed (one pointer in every `Result` of the hot path) and built by cold,
//! never-inlined constructors (orjson `src/exception.rs`).

use std::fmt;
use std::sync::Arc;

/// A failure of one frame.
#[derive(Clone, PartialEq)]
pub struct Failure(Box<FailureKind>);

#[derive(Debug, Clone, PartialEq)]
pub enum FailureKind {
    /// `pushwire.errors.DecodeError` (the exchange is added by the decoder's owner).
    Decode {
        channel: Option<Arc<str>>,
        field: Option<String>,
        /// The text after "exchange/channel: ".
        message: String,
    },
    /// A plain `ValueError` the reference decoder lets through (`str.split("")`).
    PyValue(String),
    /// A `TypeError` the reference decoder lets through (comparing a text with 0 in sign_of).
    PyType(String),
}

impl Failure {
    #[cold]
    #[inline(never)]
    pub fn new(kind: FailureKind) -> Failure {
        Failure(Box::new(kind))
    }

    /// A DecodeError of the frame as a whole (before routing).
    #[cold]
    #[inline(never)]
    pub fn frame(message: impl Into<String>) -> Failure {
        Failure::new(FailureKind::Decode {
            channel: None,
            field: None,
            message: message.into(),
        })
    }

    /// A DecodeError naming the channel and the field.
    #[cold]
    #[inline(never)]
    pub fn at(channel: &Arc<str>, field: impl Into<String>, message: impl Into<String>) -> Failure {
        Failure::new(FailureKind::Decode {
            channel: Some(channel.clone()),
            field: Some(field.into()),
            message: message.into(),
        })
    }

    pub fn kind(&self) -> &FailureKind {
        &self.0
    }

    pub fn into_kind(self) -> FailureKind {
        *self.0
    }

    /// The full message: `"{exchange}/{channel}: {message}"` (or `"{exchange}: ..."`), as
    /// `PyDecoder._error` writes it.
    pub fn decode_message(exchange: &str, channel: Option<&str>, message: &str) -> String {
        match channel {
            Some(c) if !c.is_empty() => format!("{exchange}/{c}: {message}"),
            _ => format!("{exchange}: {message}"),
        }
    }

    pub fn is_decode(&self) -> bool {
        matches!(*self.0, FailureKind::Decode { .. })
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            FailureKind::Decode {
                channel,
                field,
                message,
            } => {
                write!(
                    f,
                    "DecodeError(channel={channel:?}, field={field:?}): {message}"
                )
            }
            FailureKind::PyValue(m) => write!(f, "ValueError: {m}"),
            FailureKind::PyType(m) => write!(f, "TypeError: {m}"),
        }
    }
}

impl std::error::Error for Failure {}

/// An error inside one field's evaluation (the reference decoder's `_FieldError`); the decoder
/// names the kind, field and location around it. Python-level errors pass through unchanged.
#[derive(Debug)]
pub struct FieldError(pub Box<FieldErrorKind>);

#[derive(Debug)]
pub enum FieldErrorKind {
    Msg(String),
    Py(Failure),
}

#[cold]
#[inline(never)]
pub fn field_error(msg: impl Into<String>) -> FieldError {
    FieldError(Box::new(FieldErrorKind::Msg(msg.into())))
}

impl From<Failure> for FieldError {
    #[cold]
    fn from(f: Failure) -> Self {
        FieldError(Box::new(FieldErrorKind::Py(f)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_in_results() {
        assert_eq!(std::mem::size_of::<Failure>(), 8);
        assert_eq!(std::mem::size_of::<FieldError>(), 8);
        assert_eq!(
            Failure::decode_message("xt", Some("order"), "m"),
            "xt/order: m"
        );
        assert_eq!(Failure::decode_message("xt", Some(""), "m"), "xt: m");
        assert!(Failure::frame("x").is_decode());
    }
}
