// Forward-only schema migrations; index i brings user_version from i to i+1. Never edit a
// migration that has landed: add the next one.
export const migrations: readonly string[] = [
  // 1: layers, images, tags, containers
  `
  CREATE TABLE layers (
    chain_id   TEXT PRIMARY KEY,          -- sha256:... ; directory layers/<hex>
    diff_id    TEXT NOT NULL,             -- sha256 of the uncompressed tar
    parent     TEXT REFERENCES layers(chain_id),
    size       INTEGER NOT NULL,          -- bytes of the extracted files
    link       TEXT NOT NULL UNIQUE,      -- short name under layers/l/ for lowerdir strings
    created_at TEXT NOT NULL
  );
  CREATE TABLE images (
    id         TEXT PRIMARY KEY,          -- sha256:<hex of the config bytes>
    config     BLOB NOT NULL,             -- the config JSON, byte for byte
    top_layer  TEXT REFERENCES layers(chain_id),
    size       INTEGER NOT NULL,
    parent     TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,             -- when it entered this store
    last_tag_time TEXT
  );
  -- every layer of an image's chain, so reference counts are a COUNT(*) away
  CREATE TABLE image_layers (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    idx      INTEGER NOT NULL,
    chain_id TEXT NOT NULL REFERENCES layers(chain_id),
    PRIMARY KEY (image_id, idx)
  );
  CREATE INDEX image_layers_chain ON image_layers(chain_id);
  CREATE TABLE tags (
    ref      TEXT PRIMARY KEY,            -- canonical: docker.io/library/busybox:latest
    image_id TEXT NOT NULL REFERENCES images(id)
  );
  CREATE INDEX tags_image ON tags(image_id);
  CREATE TABLE digests (
    ref      TEXT PRIMARY KEY,            -- canonical repo@sha256:...
    image_id TEXT NOT NULL REFERENCES images(id)
  );
  CREATE TABLE containers (
    id          TEXT PRIMARY KEY,         -- 64 hex
    name        TEXT NOT NULL UNIQUE,     -- without the leading slash
    image_id    TEXT NOT NULL REFERENCES images(id),
    image_ref   TEXT NOT NULL,            -- what the user asked for (Config.Image)
    created     TEXT NOT NULL,            -- RFC 3339 nano
    config      TEXT NOT NULL,            -- Config JSON
    host_config TEXT NOT NULL,            -- HostConfig JSON
    state       TEXT NOT NULL,            -- State JSON
    restart_count INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX containers_image ON containers(image_id);
  `,
  // 2: events, kept (bounded) so `docker events --since` works across daemon restarts
  `
  CREATE TABLE events (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    time_nano INTEGER NOT NULL,
    event     TEXT NOT NULL              -- the event JSON as sent to clients
  );
  CREATE INDEX events_time ON events(time_nano);
  `,
  // 3: volumes, and the mount points of each container (a volume is in use while a row names it)
  `
  CREATE TABLE volumes (
    name      TEXT PRIMARY KEY,           -- directory volumes/<name>/_data
    driver    TEXT NOT NULL,              -- 'local'
    labels    TEXT NOT NULL,              -- JSON object or null
    options   TEXT NOT NULL,              -- JSON object (type, o, device) or null
    created   TEXT NOT NULL,              -- RFC 3339, seconds
    anonymous INTEGER NOT NULL DEFAULT 0  -- made for a container (VOLUME, -v /path): pruned by default
  );
  CREATE TABLE container_mounts (
    container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    destination  TEXT NOT NULL,
    volume       TEXT REFERENCES volumes(name),  -- NULL for binds and tmpfs
    mount        TEXT NOT NULL,                  -- the mount point JSON (inspect's Mounts entry and berth's own fields)
    PRIMARY KEY (container_id, destination)
  );
  CREATE INDEX container_mounts_volume ON container_mounts(volume);
  `,
  // 4: networks (the predefined bridge, host and none included) and each container's endpoints
  `
  CREATE TABLE networks (
    id          TEXT PRIMARY KEY,         -- 64 hex
    name        TEXT NOT NULL UNIQUE,
    driver      TEXT NOT NULL,            -- bridge, host, null
    created     TEXT NOT NULL,            -- RFC 3339 nano
    internal    INTEGER NOT NULL DEFAULT 0,
    attachable  INTEGER NOT NULL DEFAULT 0,
    enable_ipv6 INTEGER NOT NULL DEFAULT 0,
    ipam        TEXT NOT NULL,            -- IPAM JSON {Driver, Options, Config}
    options     TEXT NOT NULL,            -- JSON object
    labels      TEXT NOT NULL,            -- JSON object
    bridge      TEXT NOT NULL DEFAULT ''  -- the Linux bridge (berth0, br-<12hex>)
  );
  CREATE TABLE endpoints (
    network_id   TEXT NOT NULL REFERENCES networks(id),
    container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    endpoint_id  TEXT NOT NULL,
    ip           TEXT NOT NULL DEFAULT '',   -- IPv4 while running (or the --ip asked for)
    mac          TEXT NOT NULL DEFAULT '',
    aliases      TEXT NOT NULL,              -- JSON array
    ipam_config  TEXT NOT NULL,              -- JSON (IPAMConfig as sent) or null
    PRIMARY KEY (network_id, container_id)
  );
  CREATE INDEX endpoints_container ON endpoints(container_id);
  `,
  // 5: the build cache: which image a build step produced, keyed by what the step depends on.
  // IF NOT EXISTS: berthd before this migration made the same table at runtime, so a data
  // root from then already has it (with its rows, which stay valid).
  `
  CREATE TABLE IF NOT EXISTS build_cache (
    key        TEXT PRIMARY KEY,        -- sha256 of parent image, instruction, config, content
    image_id   TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    last_used  TEXT
  );
  CREATE INDEX IF NOT EXISTS build_cache_image ON build_cache(image_id);
  `,
  // 6: how often each build cache entry was used (UsageCount in system df -v)
  `
  ALTER TABLE build_cache ADD COLUMN usage_count INTEGER NOT NULL DEFAULT 1;
  `,
  // 7: which registry blob (compressed digest) holds each layer, and where it was seen, so a
  // push can skip or mount layers a registry already has (moby's v2metadata)
  `
  CREATE TABLE layer_blobs (
    diff_id    TEXT NOT NULL,             -- sha256 of the uncompressed tar
    digest     TEXT NOT NULL,             -- sha256 of the blob as the registry stores it
    media_type TEXT NOT NULL,
    size       INTEGER NOT NULL,
    registry   TEXT NOT NULL,             -- domain of the reference, e.g. localhost:5000
    repository TEXT NOT NULL,             -- path in that registry, e.g. library/busybox
    PRIMARY KEY (diff_id, digest, registry, repository)
  );
  `,
  // 8: the URLs of a foreign layer (JSON array; NULL for ordinary blobs): a push skips the
  // layer and names them in the manifest, as dockerd does
  `
  ALTER TABLE layer_blobs ADD COLUMN urls TEXT;
  `,
];
