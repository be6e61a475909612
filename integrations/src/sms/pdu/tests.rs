use super::*;

fn ucs2() -> SubmitOptions {
    SubmitOptions { encoding: Encoding::Ucs2, ..SubmitOptions::default() }
}

#[test]
fn neoway_manual_example() {
    // TON 81 (unknown), first octet 01 (no validity period).
    let opts = SubmitOptions { validity: None, ..ucs2() };
    let pdus = encode_submit(&Address::unknown("13421839693"), "hello", &opts).unwrap();
    assert_eq!(pdus.len(), 1);
    assert_eq!(pdus[0].hex(), "0001000B813124819396F300080A00680065006C006C006F");
    assert_eq!(pdus[0].tpdu_len(), 23);
}

#[test]
fn chinese_alert_example() {
    let to = Address::from(&crate::sms::PhoneNumber::parse("+8613800138000").unwrap());
    let pdus = encode_submit(&to, "告警：服务器宕机", &SubmitOptions::default()).unwrap();
    assert_eq!(pdus.len(), 1);
    assert_eq!(pdus[0].hex(), "0011000D91683108108300F00008AA10544A8B66FF1A670D52A156685B95673A");
    assert_eq!(pdus[0].tpdu_len(), 31);
}

#[test]
fn auto_picks_gsm7_for_plain_text() {
    let pdus =
        encode_submit(&Address::international("8613800138000"), "hellohello", &SubmitOptions::default())
            .unwrap();
    assert_eq!(pdus[0].hex(), "0011000D91683108108300F00000AA0AE8329BFD4697D9EC37");
    let back = decode_submit(&pdus[0].hex()).unwrap();
    assert_eq!(back.alphabet, Alphabet::Gsm7);
    assert_eq!(back.text, "hellohello");
    assert_eq!(back.validity, Some(0xAA));
}

#[test]
fn long_chinese_is_concatenated() {
    let text: String = "法院电子卷宗系统故障".repeat(15); // 150 characters
    let opts = SubmitOptions { reference: 0x2A, ..ucs2() };
    let pdus = encode_submit(&Address::international("8613800138000"), &text, &opts).unwrap();
    assert_eq!(pdus.len(), 3); // 67 + 67 + 16
    let mut joined = String::new();
    for (i, pdu) in pdus.iter().enumerate() {
        let hex = pdu.hex();
        assert!(hex.starts_with("0051000D91683108108300F00008AA"), "{hex}");
        let back = decode_submit(&hex).unwrap();
        let seq = u8::try_from(i + 1).unwrap();
        assert_eq!(back.concat, Some(Concat { reference: 0x2A, total: 3, seq }));
        assert_eq!(back.to, Address::international("8613800138000"));
        assert!(back.text.chars().count() <= 67);
        assert!(pdu.tpdu_len() <= 15 + 140);
        joined.push_str(&back.text);
    }
    // UDL of a full part: 6 header octets + 134 text octets.
    assert_eq!(&pdus[0].hex()[30..44], "8C0500032A0301");
    assert_eq!(joined, text);
}

#[test]
fn seventy_ucs2_fit_one_part_and_seventy_one_do_not() {
    let to = Address::international("8613800138000");
    assert_eq!(encode_submit(&to, &"值".repeat(70), &ucs2()).unwrap().len(), 1);
    assert_eq!(encode_submit(&to, &"值".repeat(71), &ucs2()).unwrap().len(), 2);
}

#[test]
fn surrogate_pairs_and_escape_pairs_are_not_split() {
    let to = Address::international("8613800138000");
    let text = format!("{}🚨🚨", "值".repeat(66)); // 66 units, then two 2-unit characters
    let pdus = encode_submit(&to, &text, &ucs2()).unwrap();
    let parts: Vec<String> = pdus.iter().map(|p| decode_submit(&p.hex()).unwrap().text).collect();
    assert_eq!(parts.concat(), text);
    assert!(parts.iter().all(|p| !p.contains('\u{FFFD}')));

    let gsm = format!("{}{{}}{}", "a".repeat(152), "b".repeat(10)); // an escape pair at septet 153
    let pdus = encode_submit(&to, &gsm, &SubmitOptions::default()).unwrap();
    assert_eq!(pdus.len(), 2);
    let parts: Vec<String> = pdus.iter().map(|p| decode_submit(&p.hex()).unwrap().text).collect();
    assert_eq!(parts[0], "a".repeat(152));
    assert_eq!(parts.concat(), gsm);
}

#[test]
fn gsm7_concatenation_uses_153_septets() {
    let to = Address::international("8613800138000");
    let text = "x".repeat(161);
    let pdus = encode_submit(&to, &text, &SubmitOptions::default()).unwrap();
    assert_eq!(pdus.len(), 2);
    let first = decode_submit(&pdus[0].hex()).unwrap();
    assert_eq!(first.text.len(), 153);
    assert_eq!(first.concat.map(|c| (c.total, c.seq)), Some((2, 1)));
    assert_eq!(decode_submit(&pdus[1].hex()).unwrap().text.len(), 8);
}

#[test]
fn encode_errors() {
    let to = Address::international("8613800138000");
    assert_eq!(
        encode_submit(&to, "告警", &SubmitOptions { encoding: Encoding::Gsm7, ..Default::default() }),
        Err(PduError::NotGsm7)
    );
    assert_eq!(encode_submit(&to, &"值".repeat(67 * 255 + 1), &ucs2()), Err(PduError::TooLong));
    assert_eq!(encode_submit(&Address::international("12ab"), "x", &ucs2()), Err(PduError::BadAddress));
}

#[test]
fn validity_codes() {
    use std::time::Duration;
    assert_eq!(relative_validity(Duration::from_secs(5 * 60)), 0);
    assert_eq!(relative_validity(Duration::from_secs(12 * 3600)), 143);
    assert_eq!(relative_validity(Duration::from_secs(24 * 3600)), 167);
    assert_eq!(relative_validity(Duration::from_secs(4 * 24 * 3600)), 0xAA);
    assert_eq!(relative_validity(Duration::from_secs(365 * 24 * 3600)), 245);
    assert_eq!(relative_validity(Duration::from_secs(u64::MAX)), 255);
}

// Received messages. The hex below was assembled field by field per TS 23.040 (with an independent
// script), not produced by our encoder.

#[test]
fn realistic_ucs2_deliver() {
    // 08 91 683108100005F0     SMSC +8613800100500
    // 04                       SMS-DELIVER, TP-MMS (no more messages)
    // 0D 91 683108108300F0     sender +8613800138000
    // 00 08                    PID, DCS UCS2
    // 62115212035123           2026-11-25 21:30:15, +32 quarters (UTC+8)
    // 0C 786E8BA40020003000300037   12 octets: "确认 007"
    let pdu =
        decode_deliver("0891683108100005F0040D91683108108300F00008621152120351230C786E8BA40020003000300037")
            .unwrap();
    assert_eq!(pdu.smsc, Some(Address::international("8613800100500")));
    assert_eq!(pdu.sender.to_string(), "+8613800138000");
    assert_eq!(pdu.timestamp.to_string(), "2026-11-25T13:30:15Z");
    assert_eq!(pdu.offset.seconds(), 8 * 3600);
    assert_eq!(pdu.alphabet, Alphabet::Ucs2);
    assert_eq!(pdu.text, "确认 007");
    assert_eq!(pdu.concat, None);
}

#[test]
fn realistic_gsm7_deliver_from_national_number() {
    // sender 0B A1 3108108300F0 = national 13800138000; DCS 00; UDL 8 septets "2 007 ok".
    let pdu =
        decode_deliver("0891683108100005F0040BA13108108300F00000621152315090230832100C7603BDD7").unwrap();
    assert_eq!(pdu.sender, Address::national("13800138000"));
    assert_eq!(pdu.sender.to_string(), "13800138000");
    assert_eq!(pdu.alphabet, Alphabet::Gsm7);
    assert_eq!(pdu.text, "2 007 ok");
    assert_eq!(pdu.timestamp.to_string(), "2026-11-25T05:05:09Z");
}

#[test]
fn realistic_concatenated_parts() {
    // No SMSC; 44 = DELIVER with UDHI; UDH 05 00 03 A7 02 02; "机房".
    let pdu = decode_deliver("00440D91683108108300F00008621152120361230A050003A70202673A623F").unwrap();
    assert_eq!(pdu.smsc, None);
    assert_eq!(pdu.concat, Some(Concat { reference: 0xA7, total: 2, seq: 2 }));
    assert_eq!(pdu.text, "机房");

    // GSM 7-bit behind a 6-octet UDH (one fill bit), UTC-5.
    let pdu =
        decode_deliver("00440D91683108108300F000006210203040500A12050003050201A665B9BD2C0791DF7737").unwrap();
    assert_eq!(pdu.concat, Some(Concat { reference: 5, total: 2, seq: 1 }));
    assert_eq!(pdu.text, "Server down");
    assert_eq!(pdu.offset.seconds(), -5 * 3600);
    assert_eq!(pdu.timestamp.to_string(), "2026-01-02T08:04:05Z");
}

#[test]
fn deliver_round_trips() {
    let ts: jiff::Timestamp = "2026-11-25T13:30:15Z".parse().unwrap();
    let cases = [
        (Address::international("8613800138000"), Alphabet::Ucs2, "转派 007 张三", None),
        (Address::unknown("10086"), Alphabet::Gsm7, "1 007 [ok] €5", None),
        (
            Address::alphanumeric("CourtIT"),
            Alphabet::Gsm7,
            "hello",
            Some(Concat { reference: 300, total: 3, seq: 2 }),
        ),
        (
            Address::national("13800138000"),
            Alphabet::Data8,
            "raw",
            Some(Concat { reference: 7, total: 2, seq: 1 }),
        ),
    ];
    for (sender, alphabet, text, concat) in cases {
        let original = DeliverPdu {
            smsc: Some(Address::international("8613800100500")),
            sender,
            timestamp: ts,
            offset: jiff::tz::Offset::from_hours(8).unwrap(),
            alphabet,
            text: text.to_string(),
            concat,
        };
        let hex = encode_deliver(&original).unwrap();
        assert_eq!(decode_deliver(&hex).unwrap(), original, "{hex}");
    }
}

#[test]
fn malformed_pdus_are_errors() {
    assert_eq!(decode_deliver("zz"), Err(PduError::Hex));
    assert_eq!(decode_deliver(""), Err(PduError::Truncated("SMSC length")));
    assert_eq!(decode_deliver("0001"), Err(PduError::Unsupported("not an SMS-DELIVER")));
    assert!(matches!(decode_deliver("00040D91683108108300F000086211521203"), Err(PduError::Truncated(_))));
    // Month 13.
    assert_eq!(decode_deliver("00040D91683108108300F00008623152120351230100"), Err(PduError::BadTimestamp));
    // UDL says 12 octets, only 2 present.
    assert!(matches!(
        decode_deliver("00040D91683108108300F00008621152120351230C786E"),
        Err(PduError::Truncated(_))
    ));
    assert_eq!(decode_deliver("0004000000"), decode_deliver("0004000000"));
}

proptest::proptest! {
    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
        let hex = hex::encode(&bytes);
        let _ = decode_deliver(&hex);
        let _ = decode_submit(&hex);
    }

    #[test]
    fn submit_round_trips(text in "\\PC{0,400}", reference in 0u8..=255) {
        let opts = SubmitOptions { reference, ..SubmitOptions::default() };
        let to = Address::international("8613800138000");
        let pdus = encode_submit(&to, &text, &opts).unwrap();
        let mut joined = String::new();
        for pdu in &pdus {
            proptest::prop_assert!(pdu.tpdu_len() <= 15 + 1 + 140);
            joined.push_str(&decode_submit(&pdu.hex()).unwrap().text);
        }
        proptest::prop_assert_eq!(joined, text);
    }
}
