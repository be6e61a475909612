//! WeCom's callback crypto (document 90968), checked against the official sample's vectors (spec
//! §2.6):
//!
//! - `AESKey = Base64_Decode(EncodingAESKey + "=")`, 32 bytes; AES-256-CBC with `IV = AESKey[..16]`;
//! - plaintext `random(16) || len(4, big-endian) || msg || receiveid`, PKCS#7-padded to a multiple of
//!   **32** bytes (pad values 1..=32, so the cipher's own 16-byte PKCS#7 cannot be used);
//! - ciphertext in standard base64 with padding;
//! - `msg_signature = hex(sha1(concat(sort([token, timestamp, nonce, encrypt]))))`.

use aes::Aes256;
use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// WeCom pads to multiples of this many bytes.
const PAD_BLOCK: usize = 32;

/// EncodingAESKeys have non-zero trailing bits in their last character (`…hUt`), which the strict
/// engine refuses.
const KEY_ENGINE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// What is wrong with a ciphertext or a key. The names follow the official samples' error codes
/// (-40004 illegal AES key, -40007 decrypt, -40008 illegal buffer, -40010 base64 decode).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the EncodingAESKey must be 43 base64 characters (32 bytes)")]
    BadKey,
    #[error("the ciphertext is not base64")]
    Base64,
    #[error("the ciphertext is not a whole number of AES blocks")]
    BlockLength,
    #[error("the decrypted text has a bad padding")]
    Padding,
    #[error("the decrypted text is too short for its declared length")]
    Layout,
    #[error("the decrypted message is not UTF-8")]
    Utf8,
}

/// The 32-byte AES key of an EncodingAESKey.
pub fn aes_key(encoding_aes_key: &str) -> Result<[u8; 32], CryptoError> {
    if encoding_aes_key.len() != 43 {
        return Err(CryptoError::BadKey);
    }
    let bytes = KEY_ENGINE.decode(format!("{encoding_aes_key}=")).map_err(|_| CryptoError::BadKey)?;
    bytes.try_into().map_err(|_| CryptoError::BadKey)
}

/// `msg_signature` over the four values, lowercase hex.
pub fn signature(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> String {
    let mut parts = [token, timestamp, nonce, encrypt];
    parts.sort_unstable();
    let mut sha = Sha1::new();
    for p in parts {
        sha.update(p.as_bytes());
    }
    hex::encode(sha.finalize())
}

/// Whether `given` is the signature of the four values, compared in constant time (case-insensitively
/// for the hex digits).
pub fn signature_matches(given: &str, token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> bool {
    let expected = signature(token, timestamp, nonce, encrypt);
    let given = given.to_ascii_lowercase();
    bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// A decrypted callback: the message and the receive id that followed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    pub random: [u8; 16],
    pub message: String,
    pub receive_id: String,
}

/// Decrypts a base64 `Encrypt`/`echostr` value.
pub fn decrypt(key: &[u8; 32], ciphertext_b64: &str) -> Result<Decrypted, CryptoError> {
    let mut buf = STANDARD.decode(ciphertext_b64.trim()).map_err(|_| CryptoError::Base64)?;
    if buf.is_empty() || buf.len() % 16 != 0 {
        return Err(CryptoError::BlockLength);
    }
    let plain = cbc::Decryptor::<Aes256>::new_from_slices(key, &key[..16])
        .map_err(|_| CryptoError::BadKey)?
        .decrypt_padded::<NoPadding>(&mut buf)
        .map_err(|_| CryptoError::BlockLength)?;
    let plain = unpad(plain)?;
    if plain.len() < 20 {
        return Err(CryptoError::Layout);
    }
    let mut random = [0u8; 16];
    random.copy_from_slice(&plain[..16]);
    let len = u32::from_be_bytes([plain[16], plain[17], plain[18], plain[19]]) as usize;
    let rest = &plain[20..];
    if len > rest.len() {
        return Err(CryptoError::Layout);
    }
    let message = std::str::from_utf8(&rest[..len]).map_err(|_| CryptoError::Utf8)?.to_string();
    let receive_id = std::str::from_utf8(&rest[len..]).map_err(|_| CryptoError::Utf8)?.to_string();
    Ok(Decrypted { random, message, receive_id })
}

/// Encrypts `message` for `receive_id` with the given 16 random bytes, as WeCom does (and as a
/// passive reply must be), to base64.
pub fn encrypt(key: &[u8; 32], random: &[u8; 16], message: &str, receive_id: &str) -> String {
    let mut plain = Vec::with_capacity(20 + message.len() + receive_id.len() + PAD_BLOCK);
    plain.extend_from_slice(random);
    plain.extend_from_slice(&u32::try_from(message.len()).unwrap_or(u32::MAX).to_be_bytes());
    plain.extend_from_slice(message.as_bytes());
    plain.extend_from_slice(receive_id.as_bytes());
    let pad = PAD_BLOCK - plain.len() % PAD_BLOCK;
    plain.resize(plain.len() + pad, pad as u8);
    let len = plain.len();
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&key[..16]);
    let cipher = cbc::Encryptor::<Aes256>::new(key.into(), (&iv).into());
    // The length is a multiple of 32, so `NoPadding` cannot fail.
    let out = cipher.encrypt_padded::<NoPadding>(&mut plain, len).map(<[u8]>::to_vec).unwrap_or_default();
    STANDARD.encode(out)
}

/// Removes PKCS#7 padding of 1..=32 bytes, all of the same value.
fn unpad(plain: &[u8]) -> Result<&[u8], CryptoError> {
    let pad = *plain.last().ok_or(CryptoError::Padding)? as usize;
    if pad == 0 || pad > PAD_BLOCK || pad > plain.len() {
        return Err(CryptoError::Padding);
    }
    let (body, tail) = plain.split_at(plain.len() - pad);
    if tail.iter().any(|&b| b as usize != pad) {
        return Err(CryptoError::Padding);
    }
    Ok(body)
}
