//! Container ids, with runc's rules: letters, digits, `_ + - .`, and nothing that could
//! escape the state root (`.`, `..`, `/`, NUL).

use crate::error::{Error, Result};

pub fn validate_id(id: &str) -> Result<()> {
    let ok_chars = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.'));
    if id.is_empty() || id.len() > 1024 || !ok_chars || id == "." || id == ".." {
        return Err(Error::InvalidId(id.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_runc_ids() {
        for id in ["a", "my-container_1", "x.y+z", "0123456789abcdef"] {
            validate_id(id).unwrap();
        }
    }

    #[test]
    fn rejects_escaping_ids() {
        for id in ["", ".", "..", "../x", "a/b", "/", "a\0b", "sp ace", "é"] {
            assert!(validate_id(id).is_err(), "{id:?}");
        }
    }
}
