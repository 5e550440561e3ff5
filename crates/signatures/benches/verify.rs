//! Cost of verifying and signing, against the floor: one bare HMAC-SHA256 of the same body,
//! which no scheme can avoid. The gap is parsing, decoding, keying and comparison.
//!
//! Run: `cargo bench -p switchyard-signatures --bench verify`

#![allow(missing_docs, clippy::unwrap_used)]

use std::{
    hint::black_box,
    time::{Duration, UNIX_EPOCH},
};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use secrecy::SecretString;
use sha2::Sha256;
use switchyard_signatures::{DEFAULT_TOLERANCE, Scheme, Signer, Verifier};

const T: i64 = 1_700_000_000;
const STRIPE_SECRET: &str = "whsec_endpoint_secret_for_benchmarks";
const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

fn bench(c: &mut Criterion) {
    let now = UNIX_EPOCH + Duration::from_secs(T.unsigned_abs());
    let mut group = c.benchmark_group("verify");
    for size in [1024, 64 * 1024] {
        let body = vec![b'x'; size];
        group.throughput(Throughput::Bytes(size as u64));

        group.bench_with_input(BenchmarkId::new("bare_hmac", size), &body, |b, body| {
            b.iter(|| hmac(black_box(b"secret"), &[black_box(body)]));
        });

        let razorpay = Verifier::new(Scheme::Razorpay, &[SecretString::from("secret")]).unwrap();
        let signature = hex::encode(hmac(b"secret", &[&body]));
        let headers = [("x-razorpay-signature", signature.as_str())];
        assert_eq!(razorpay.verify(&headers, &body, now), Ok(()));
        group.bench_with_input(BenchmarkId::new("razorpay", size), &body, |b, body| {
            b.iter(|| razorpay.verify(black_box(&headers), black_box(body), now));
        });

        // Rotation's worst case: the matching secret is the second one tried.
        let stripe = Verifier::new(
            Scheme::Stripe {
                tolerance: DEFAULT_TOLERANCE,
            },
            &[
                SecretString::from("whsec_retired"),
                SecretString::from(STRIPE_SECRET),
            ],
        )
        .unwrap();
        let v1 = hex::encode(hmac(
            STRIPE_SECRET.as_bytes(),
            &[T.to_string().as_bytes(), b".", &body],
        ));
        let header = format!("t={T},v1={v1}");
        let headers = [("stripe-signature", header.as_str())];
        assert_eq!(stripe.verify(&headers, &body, now), Ok(()));
        group.bench_with_input(
            BenchmarkId::new("stripe_second_secret", size),
            &body,
            |b, body| {
                b.iter(|| stripe.verify(black_box(&headers), black_box(body), now));
            },
        );

        let secret = SecretString::from(STANDARD_SECRET);
        let standard = Verifier::new(
            Scheme::StandardWebhooks {
                tolerance: DEFAULT_TOLERANCE,
            },
            std::slice::from_ref(&secret),
        )
        .unwrap();
        let key = STANDARD.decode(&STANDARD_SECRET[6..]).unwrap();
        let tag = hmac(
            &key,
            &[ID.as_bytes(), b".", T.to_string().as_bytes(), b".", &body],
        );
        let signature = format!("v1,{}", STANDARD.encode(tag));
        let t = T.to_string();
        let headers = [
            ("webhook-id", ID),
            ("webhook-timestamp", t.as_str()),
            ("webhook-signature", signature.as_str()),
        ];
        assert_eq!(standard.verify(&headers, &body, now), Ok(()));
        group.bench_with_input(
            BenchmarkId::new("standard_webhooks", size),
            &body,
            |b, body| {
                b.iter(|| standard.verify(black_box(&headers), black_box(body), now));
            },
        );

        let signer = Signer::new(&secret).unwrap();
        group.bench_with_input(BenchmarkId::new("sign", size), &body, |b, body| {
            b.iter(|| signer.sign(black_box(ID), black_box(T), black_box(body)));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
