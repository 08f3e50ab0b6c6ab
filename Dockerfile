# vchaind and the contract modules in one image. Built by `docker compose build` (see
# docker-compose.yml) or `docker build -t vchain:local .`.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# A static binary (no cgo); the contract modules are reproducible, so their sha256 matches
# `make contracts` on any machine with the same Go version.
RUN CGO_ENABLED=0 make build

FROM debian:bookworm-slim
COPY --from=build /src/build/vchaind /usr/local/bin/vchaind
COPY --from=build /src/build/contracts /opt/vchain/contracts
VOLUME /vchain
# p2p, rpc, abci, metrics of node0; other nodes use base+10i (see testnet.json).
EXPOSE 26600 26601 26602 26603
STOPSIGNAL SIGTERM
ENTRYPOINT ["vchaind"]
CMD ["start", "--home", "/vchain"]
