//! Checks of a lab against its repository, made before a campaign starts (and by `doctor`).

use autolab_core::config::ConfigError;
use autolab_core::config::params_file::{params_file, strays};

use crate::{EngineError, Lab};

/// Every declared param must be a key of the params file as committed (when it has keys).
pub fn params_file_keys(lab: &Lab) -> Result<(), EngineError> {
    let Some(params) = &lab.config.params else {
        return Ok(());
    };
    let Some(file) = params_file(params) else {
        return Ok(());
    };
    let text = lab.repo.run(&["show", &format!("HEAD:{file}")]).ok();
    match strays(params, text.as_deref()).into_iter().next() {
        None => Ok(()),
        Some(s) => Err(EngineError::Config(ConfigError::at_key(
            &lab.config.path,
            &lab.config_text,
            "params",
            &s.param,
            s.message,
            Some(s.hint),
        ))),
    }
}
