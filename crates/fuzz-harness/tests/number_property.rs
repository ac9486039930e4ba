//! The `number` fuzz target's body as a property test on stable Rust: values of up to 1,000
//! digits spelled with padding of up to about 200,000 zeros, exponent leading zeros and
//! exponents pushed out of range must read as Rust's parser reads their minimal spelling, in
//! every reader. The fields are drawn with the sizes that matter (no, little or huge padding;
//! exponents near the range of doubles) and laid out as the target's input bytes.

use proptest::prelude::*;

/// A padding field of the input (the target multiplies it by 3).
fn padding() -> impl Strategy<Value = u16> {
    prop_oneof![Just(0u16), 0..400u16, 20_000..=u16::MAX]
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<u8>(),
        padding(),
        padding(),
        prop_oneof![Just(0u8), any::<u8>()],
        prop_oneof![-400i16..400, any::<i16>()],
        any::<u16>(),
        prop_oneof![
            proptest::collection::vec(0..10u8, 1..20),
            proptest::collection::vec(0..10u8, 1..1000),
        ],
    )
        .prop_map(
            |(flags, leading, trailing, exp_zeros, exp, point, digits)| {
                let mut data = vec![flags];
                data.extend_from_slice(&leading.to_le_bytes());
                data.extend_from_slice(&trailing.to_le_bytes());
                data.push(exp_zeros);
                data.extend_from_slice(&exp.to_le_bytes());
                data.extend_from_slice(&point.to_le_bytes());
                data.extend_from_slice(&digits);
                data
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_spelling_reads_as_the_reference(data in input()) {
        trailseal_fuzz_harness::number(&data);
    }

    #[test]
    fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..1100)) {
        trailseal_fuzz_harness::number(&data);
    }
}
