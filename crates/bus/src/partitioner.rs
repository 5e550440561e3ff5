//! Key → partition, the way Kafka's Java client does it (murmur2, positive, modulo), so every
//! backend puts a tenant on the same partition number and Kafka producers in other languages
//! (configured `murmur2`) agree with ours.

/// Kafka's murmur2 hash (`org.apache.kafka.common.utils.Utils.murmur2`).
#[must_use]
pub fn murmur2(data: &[u8]) -> u32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    #[allow(clippy::cast_possible_truncation)]
    let mut h = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

/// The partition of `key` among `partitions` (Kafka's `toPositive(murmur2(key)) % n`).
/// Records without a key go to partition 0 on the non-Kafka backends.
#[must_use]
pub fn partition_for(key: Option<&[u8]>, partitions: u32) -> u32 {
    match key {
        Some(key) if partitions > 0 => (murmur2(key) & 0x7fff_ffff) % partitions,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values from Kafka's own `UtilsTest.testMurmur2`.
    #[test]
    fn matches_kafka_reference_values() {
        let cases: &[(&[u8], i32)] = &[
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for (input, expected) in cases {
            #[allow(clippy::cast_possible_wrap)]
            let got = murmur2(input) as i32;
            assert_eq!(got, *expected, "{}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn partitions_are_in_range_and_stable() {
        for n in 1..20 {
            let p = partition_for(Some(b"acme"), n);
            assert!(p < n);
            assert_eq!(p, partition_for(Some(b"acme"), n));
        }
        assert_eq!(partition_for(None, 8), 0);
    }
}
