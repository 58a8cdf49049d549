//! fermyon:spin/variables@2.0.0: a component reads its own variables, never the application's.

use crate::bindings::variables::{Error, Host};
use crate::state::InstanceState;
use crate::variables::GetError;

impl Host for InstanceState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, Error>> {
        Ok(self.ctx.variables.get(&name).map_err(|e| match e {
            GetError::InvalidName(m) => Error::InvalidName(m),
            GetError::Undefined(_) => {
                Error::Undefined(format!("no variable for {:?}.{:?}", self.ctx.id, name))
            }
        }))
    }
}
