//! The engine-event stream form. STUB.
use super::{Form, Preview, PreviewError};

pub(super) fn parse(_input: &[u8]) -> Result<Preview<'_>, PreviewError> {
    Ok(Preview { form: Form::EventStream, steps: Vec::new(), diagnostics: Vec::new() })
}

pub(super) fn detect(_input: &[u8]) -> Result<Form, PreviewError> {
    Ok(Form::Digest)
}
