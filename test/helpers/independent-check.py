"""Checks a repository directory with nothing but Python's standard library (zlib, sqlite3,
hashlib): the manifest's hash line, then every catalog reachable from the manifest and from
every tag, and every object they name: it must exist and its SHA-1 must be its name.
Prints a JSON list of problems (empty: the repository is whole). Signatures are checked
separately with openssl."""
import hashlib, json, os, sqlite3, sys, tempfile, zlib

base = sys.argv[1]
problems = []

def path_of(hex_hash, suffix):
    return os.path.join(base, "data", hex_hash[:2], hex_hash[2:] + suffix)

def stored(hex_hash, suffix):
    path = path_of(hex_hash, suffix)
    if not os.path.isfile(path):
        problems.append("missing " + hex_hash + suffix)
        return None
    data = open(path, "rb").read()
    if hashlib.sha1(data).hexdigest() != hex_hash:
        problems.append("hash mismatch " + hex_hash + suffix)
        return None
    return data

def database(hex_hash, suffix):
    data = stored(hex_hash, suffix)
    if data is None:
        return None
    handle = tempfile.NamedTemporaryFile(delete=False)
    handle.write(zlib.decompress(data))
    handle.close()
    db = sqlite3.connect(handle.name)
    os.unlink(handle.name)  # sqlite keeps the open file
    return db

raw = open(os.path.join(base, ".cvmfspublished"), "rb").read()
cut = raw.index(b"\n--\n")
letter = raw[: cut + 1]
hash_line = raw[cut + 4 : raw.index(b"\n", cut + 4)].decode()
if hashlib.sha1(letter).hexdigest() != hash_line:
    problems.append("manifest hash line does not match its letter")
fields = {line[:1]: line[1:] for line in letter.decode("latin1").split("\n") if line}
certificate = stored(fields["X"], "X")
# A stratum 1 re-creates this object with stock zlib at the default level under the same name.
if certificate is not None and zlib.compress(zlib.decompress(certificate), 6) != certificate:
    problems.append("certificate object is not stock zlib's level-6 bytes")
if "M" in fields:
    meta = stored(fields["M"], "M")
    if meta is not None and zlib.compress(zlib.decompress(meta), 6) != meta:
        problems.append("meta-info object is not stock zlib's level-6 bytes")
roots = [fields["C"]]
if "H" in fields:
    history = database(fields["H"], "H")
    if history is not None:
        roots += [row[0] for row in history.execute("SELECT hash FROM tags")]

seen = set()
while roots:
    root = roots.pop()
    if root in seen:
        continue
    seen.add(root)
    catalog = database(root, "C")
    if catalog is None:
        continue
    for blob, flags in catalog.execute("SELECT hash, flags FROM catalog WHERE hash IS NOT NULL"):
        if flags & 4 and not flags & 64 and len(blob) == 20:
            stored(blob.hex(), "")
    for (blob,) in catalog.execute("SELECT hash FROM chunks"):
        stored(blob.hex(), "P")
    for (nested,) in catalog.execute("SELECT sha1 FROM nested_catalogs"):
        roots.append(nested)

print(json.dumps(sorted(set(problems))))
