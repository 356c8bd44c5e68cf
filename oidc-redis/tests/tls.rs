//! rediss:// against a redis-server with a TLS port and a certificate from a CA made
//! here by openssl: trusted through `trusted_pem`, refused with another CA.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use oidc_redis::{RedisStore, RedisUrl, StoreAnswer, StoreSettings};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").current_dir(dir).args(args).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA named `name` (name.crt, name.key).
fn make_ca(dir: &Path, name: &str) {
    let (crt, key) = (format!("{name}.crt"), format!("{name}.key"));
    openssl(
        dir,
        &[
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", &key,
            "-out", &crt, "-days", "2", "-subj", &format!("/CN={name}"), "-addext",
            "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

fn tls_settings(pem: Option<Vec<u8>>) -> StoreSettings {
    StoreSettings { timeout: Duration::from_millis(1000), trusted_pem: pem, tracking_prefix: PREFIX.into() }
}

#[tokio::test]
async fn rediss_with_a_private_ca() {
    let dir = TempDir::new("tls");
    let d = &dir.0;
    make_ca(d, "ca");
    make_ca(d, "other-ca");
    openssl(
        d,
        &[
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "srv.key",
            "-out", "srv.csr", "-subj", "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
            "srv.crt", "-days", "2", "-extfile", "ext.cnf",
        ],
    );

    let port = free_port(false);
    let p = |f: &str| d.join(f).display().to_string();
    let _server = Server::start_with(
        d,
        port,
        &format!(
            "port 0\ntls-port {port}\ntls-cert-file {}\ntls-key-file {}\ntls-ca-cert-file {}\ntls-auth-clients no\n",
            p("srv.crt"),
            p("srv.key"),
            p("ca.crt")
        ),
        &["--tls", "--cacert", &p("ca.crt")],
    );
    let url = RedisUrl::parse(&format!("rediss://:{PW}@127.0.0.1:{port}")).unwrap();
    let ca = std::fs::read(d.join("ca.crt")).unwrap();

    let seen = Seen::default();
    let s = RedisStore::connect(&url, tls_settings(Some(ca.clone())), seen.callback()).unwrap();
    let writer = RedisStore::connect(&url, tls_settings(Some(ca)), Box::new(|_| {})).unwrap();
    live(&s).await;
    set(&writer, "oidc:tls", b"1").await.unwrap();
    assert_eq!(get(&s, "oidc:tls").await, Ok(StoreAnswer::Value(Some(b"1".to_vec()))));
    invalidated(&seen, "oidc:tls", Duration::from_secs(3)).await;

    // Another CA: the handshake fails, the command errs within the timeout.
    let other = std::fs::read(d.join("other-ca.crt")).unwrap();
    let bad = RedisStore::connect(&url, tls_settings(Some(other)), Box::new(|_| {})).unwrap();
    let t0 = Instant::now();
    assert!(get(&bad, "oidc:tls").await.is_err());
    assert!(t0.elapsed() < Duration::from_millis(1300), "{:?}", t0.elapsed());
    // Once a connection attempt has failed, errors say why (the certificate), not only
    // that no answer came.
    let e = get(&bad, "oidc:tls").await.err().expect("refused");
    assert!(e.to_lowercase().contains("certificate"), "{e}");
    assert!(!bad.health().tracking_live());

    // Plain redis:// to a TLS port gets no answer either.
    let plain = RedisUrl::parse(&format!("redis://:{PW}@127.0.0.1:{port}")).unwrap();
    let plain = RedisStore::connect(&plain, tls_settings(None), Box::new(|_| {})).unwrap();
    assert!(get(&plain, "oidc:tls").await.is_err());

    // A bundle that is no PEM is refused at once, with the reason.
    let e = RedisStore::connect(&url, tls_settings(Some(b"not a pem".to_vec())), Box::new(|_| {})).err().unwrap();
    assert!(e.contains("no certificate in the PEM bundle"), "{e}");
}
