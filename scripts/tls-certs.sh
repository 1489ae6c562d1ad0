#!/bin/sh
# tls-certs.sh DIR: a throwaway CA with server and client certificates for testing the API over TLS,
# laid out as the docker CLI and dockerd expect (DOCKER_CERT_PATH dirs with ca.pem, cert.pem, key.pem):
#   DIR/server/  server cert for localhost and 127.0.0.1 (serverAuth)
#   DIR/client/  client cert (clientAuth)
#   DIR/rogue/   a client cert signed by another CA (must be refused); ca.pem is the real CA
# EC P-256 keys (fast to make); valid for 2 days.
set -eu
dir=$1
mkdir -p "$dir/server" "$dir/client" "$dir/rogue" "$dir/.work"
w=$dir/.work
ossl() { openssl "$@" 2>/dev/null; }

make_ca() { # make_ca NAME
    ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=berth test $1" -keyout "$w/$1-key.pem" -out "$w/$1.pem"
}

make_cert() { # make_cert CA OUTDIR CN EXTFILE
    ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$3" \
        -keyout "$2/key.pem" -out "$w/$3.csr"
    ossl x509 -req -in "$w/$3.csr" -CA "$w/$1.pem" -CAkey "$w/$1-key.pem" -CAcreateserial \
        -days 2 -extfile "$4" -out "$2/cert.pem"
}

make_ca ca
make_ca rogue-ca
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$w/server.ext"
printf 'extendedKeyUsage=clientAuth\n' >"$w/client.ext"
make_cert ca "$dir/server" localhost "$w/server.ext"
make_cert ca "$dir/client" client "$w/client.ext"
make_cert rogue-ca "$dir/rogue" rogue "$w/client.ext"
for d in server client rogue; do cp "$w/ca.pem" "$dir/$d/ca.pem"; done
chmod 600 "$dir"/*/key.pem
rm -rf "$w"
