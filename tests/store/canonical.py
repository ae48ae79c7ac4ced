"""Canonical JSON exactly as docs/store.md ("Canonical JSON") specifies it, written from the document alone.

Used by the tests to recompute action keys and record checksums independently of the C code."""
import hashlib
import json


def _string(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == '\\':
            out.append('\\\\')
        elif ch == '\b':
            out.append('\\b')
        elif ch == '\f':
            out.append('\\f')
        elif ch == '\n':
            out.append('\\n')
        elif ch == '\r':
            out.append('\\r')
        elif ch == '\t':
            out.append('\\t')
        elif o < 0x20:
            out.append('\\u%04X' % o)
        else:
            out.append(ch)
    out.append('"')
    return ''.join(out)


def _real(x):
    t = '%.17g' % x
    if 'e' in t:
        mant, exp = t.split('e')
        sign = '-' if exp.startswith('-') else ''
        exp = exp.lstrip('+-').lstrip('0') or '0'
        t = mant + 'e' + sign + exp
    elif '.' not in t:
        t += '.0'
    return t


def encode(v):
    if v is None:
        return 'null'
    if v is True:
        return 'true'
    if v is False:
        return 'false'
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _real(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, list):
        return '[' + ','.join(encode(x) for x in v) + ']'
    if isinstance(v, dict):
        keys = sorted(v.keys(), key=lambda k: k.encode('utf-8'))
        return '{' + ','.join(_string(k) + ':' + encode(v[k]) for k in keys) + '}'
    raise TypeError(type(v))


def sha256_hex(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def action_key(step, version, params, inputs):
    return sha256_hex(encode({"schema": 1, "step": step, "version": version, "params": params, "inputs": inputs}))


def record_checksum(record):
    r = dict(record)
    r.pop("checksum", None)
    return sha256_hex(encode(r))


def loads(text):
    """Parse keeping integers and reals apart, as the document requires."""
    return json.loads(text)
