//! The domain's one error: input a rule refuses. Its text is what the client is told (inside a
//! 400/409 envelope, usually under the field it concerns), so it is written for the client.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Invalid {
        Invalid(message.into())
    }
}

impl From<Invalid> for String {
    fn from(e: Invalid) -> String {
        e.0
    }
}

impl From<String> for Invalid {
    fn from(message: String) -> Invalid {
        Invalid(message)
    }
}
