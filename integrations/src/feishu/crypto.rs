//! Feishu's event encryption: AES-256-CBC, key = SHA-256 of the app's Encrypt Key, a random IV in
//! front of the ciphertext, PKCS#7 padding to 16 bytes, the whole base64 (standard alphabet).
//!
//! Verified against the vector of Feishu's documentation (`"test key"`,
//! `P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=` → `hello world`).

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt as _, BlockModeEncrypt as _, KeyIvInit as _};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

type Decryptor = cbc::Decryptor<aes::Aes256>;
type Encryptor = cbc::Encryptor<aes::Aes256>;

/// Why an `encrypt` field could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error("the encrypted field is not base64")]
    Base64,
    #[error("the encrypted field is too short or not a whole number of AES blocks")]
    Length,
    #[error("the padding is wrong (another Encrypt Key?)")]
    Padding,
}

fn key_of(encrypt_key: &str) -> [u8; 32] {
    Sha256::digest(encrypt_key.as_bytes()).into()
}

/// Opens Feishu's `encrypt` field with the app's Encrypt Key.
pub fn decrypt(encrypt_key: &str, encrypted: &str) -> Result<Vec<u8>, DecryptError> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encrypted.trim().as_bytes())
        .map_err(|_| DecryptError::Base64)?;
    if raw.len() < 32 || raw.len() % 16 != 0 {
        return Err(DecryptError::Length);
    }
    let (iv, ciphertext) = raw.split_at(16);
    let mut buf = ciphertext.to_vec();
    let decryptor = Decryptor::new_from_slices(&key_of(encrypt_key), iv).map_err(|_| DecryptError::Length)?;
    let plain = decryptor.decrypt_padded::<Pkcs7>(&mut buf).map_err(|_| DecryptError::Padding)?;
    Ok(plain.to_vec())
}

/// Encrypts like Feishu does, with the given IV (tests and the fake server; Feishu picks a random one).
pub fn encrypt(encrypt_key: &str, plain: &[u8], iv: [u8; 16]) -> String {
    let padded_len = (plain.len() / 16 + 1) * 16;
    let mut buf = vec![0u8; padded_len];
    buf[..plain.len()].copy_from_slice(plain);
    let encryptor =
        Encryptor::new_from_slices(&key_of(encrypt_key), &iv).expect("32-byte key and 16-byte IV");
    let ciphertext = encryptor
        .encrypt_padded::<Pkcs7>(&mut buf, plain.len())
        .expect("the buffer has room for the padding");
    let mut out = iv.to_vec();
    out.extend_from_slice(ciphertext);
    base64::engine::general_purpose::STANDARD.encode(out)
}
