#!/usr/bin/env python3
"""A straightforward Python standard-library conversion of a catalog to a
feed, for comparison with the Go feed stage (bench/feed.sh runs both).

It reads the CSV export of the catalog (pyarrow is not part of the standard
library, so the Parquet catalog is exported to CSV first by feedbench gen
-csv), checks the required fields, formats prices from minor units, escapes
XML with xml.sax.saxutils and writes gzip (level 6) with the gzip module.
It does less than the Go stage (no URL normalisation, no length limits, no
HTML stripping), so the comparison flatters Python.

    feed_py.py google|meta|naver catalog.csv out.gz
Prints one JSON line like feedbench.
"""
import csv
import gzip
import json
import resource
import sys
import time
from xml.sax.saxutils import escape

ZERO_DECIMALS = {"KRW", "JPY", "VND", "CLP", "ISK", "PYG", "UGX", "XAF", "XOF"}
META_AVAIL = {"in_stock": "in stock", "out_of_stock": "out of stock",
              "preorder": "preorder", "backorder": "available for order"}


def price(minor, cur):
    if cur in ZERO_DECIMALS:
        return "%d %s" % (minor, cur)
    return "%d.%02d %s" % (minor // 100, minor % 100, cur)


def valid(r, platform):
    if not (r["id"] and r["title"] and r["link"] and r["image_link"]):
        return False
    if int(r["price"]) <= 0:
        return False
    if platform == "google":
        return bool(r["description"]) and r["availability"] in ("in_stock", "out_of_stock")
    if platform == "meta":
        return bool(r["description"]) and r["availability"] in META_AVAIL
    return r["currency"] == "KRW" and r["availability"] != "out_of_stock" and int(r["shipping_cost"]) >= 0


def google(rows, out):
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n'
              '<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0">\n<channel>\n'
              '<title>Bench shop</title>\n<link>https://shop.example.com/</link>\n'
              '<description>Product feed of Bench shop</description>\n')
    n = 0
    for r in rows:
        if not valid(r, "google"):
            continue
        n += 1
        parts = ["<item>\n"]

        def el(name, v):
            if v:
                parts.append("<g:%s>%s</g:%s>\n" % (name, escape(v), name))
        el("id", r["id"])
        el("item_group_id", r["item_group_id"])
        el("title", r["title"])
        el("description", r["description"])
        el("link", r["link"])
        el("mobile_link", r["mobile_link"])
        el("image_link", r["image_link"])
        for a in r["additional_image_links"].split():
            el("additional_image_link", a)
        el("availability", r["availability"])
        el("price", price(int(r["price"]), r["currency"]))
        if 0 < int(r["sale_price"]) < int(r["price"]):
            el("sale_price", price(int(r["sale_price"]), r["currency"]))
        el("condition", r["condition"])
        el("brand", r["brand"])
        el("gtin", r["gtin"])
        el("mpn", r["mpn"])
        el("google_product_category", r["product_type"])
        el("product_type", r["category_path"])
        if int(r["shipping_cost"]) >= 0 and r["shipping_country"]:
            parts.append("<g:shipping>\n")
            el("country", r["shipping_country"])
            el("price", price(int(r["shipping_cost"]), r["currency"]))
            parts.append("</g:shipping>\n")
        el("custom_label_0", r["custom_label_0"])
        parts.append("</item>\n")
        out.write("".join(parts))
    out.write("</channel>\n</rss>\n")
    return n


def meta(rows, out):
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["id", "item_group_id", "title", "description", "availability", "condition", "price",
                "sale_price", "link", "image_link", "additional_image_link", "brand", "gtin", "mpn",
                "google_product_category", "product_type", "shipping", "custom_label_0"])
    n = 0
    for r in rows:
        if not valid(r, "meta"):
            continue
        n += 1
        p, sp, cur = int(r["price"]), int(r["sale_price"]), r["currency"]
        ship = ""
        if int(r["shipping_cost"]) >= 0 and r["shipping_country"]:
            ship = "%s::Standard:%s" % (r["shipping_country"], price(int(r["shipping_cost"]), cur))
        w.writerow([r["id"], r["item_group_id"], r["title"], r["description"],
                    META_AVAIL[r["availability"]], r["condition"], price(p, cur),
                    price(sp, cur) if 0 < sp < p else "", r["link"], r["image_link"],
                    ",".join(r["additional_image_links"].split()), r["brand"], r["gtin"], r["mpn"],
                    r["product_type"], r["category_path"], ship, r["custom_label_0"]])
    return n


def naver(rows, out):
    cols = ["id", "title", "price_pc", "price_mobile", "normal_price", "link", "mobile_link",
            "image_link", "add_image_link", "category_name1", "category_name2", "category_name3",
            "category_name4", "condition", "brand", "model_number", "barcode", "group_id", "shipping"]
    out.write("\t".join(cols) + "\n")
    clean = str.maketrans("\t\r\n", "   ")
    n = 0
    for r in rows:
        if not valid(r, "naver"):
            continue
        n += 1
        p, sp = int(r["price"]), int(r["sale_price"])
        pc, normal = (sp, str(p)) if 0 < sp < p else (p, "")
        cats = [c.strip() for c in r["category_path"].split(">")][:4]
        cats += [""] * (4 - len(cats))
        vals = [r["id"], r["title"], str(pc), str(pc), normal, r["link"], r["mobile_link"],
                r["image_link"], "|".join(r["additional_image_links"].split())] + cats + [
                {"new": "신상품", "used": "중고", "refurbished": "리퍼"}.get(r["condition"], ""),
                r["brand"], r["mpn"], r["gtin"], r["item_group_id"], r["shipping_cost"]]
        out.write("\t".join(v.translate(clean) for v in vals) + "\n")
    return n


class Counter:
    def __init__(self, f):
        self.f, self.n = f, 0

    def write(self, s):
        self.n += len(s.encode("utf-8"))
        return self.f.write(s)


def main():
    platform, src, dst = sys.argv[1:4]
    start = time.time()
    with open(src, newline="", encoding="utf-8") as f, \
            gzip.open(dst, "wt", encoding="utf-8", compresslevel=6, newline="") as z:
        out = Counter(z)
        n = {"google": google, "meta": meta, "naver": naver}[platform](csv.DictReader(f), out)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    import os
    print(json.dumps({"mode": "python", "platform": platform, "items": n,
                      "seconds": time.time() - start, "cpu_seconds": ru.ru_utime + ru.ru_stime,
                      "raw_bytes": out.n, "bytes": os.path.getsize(dst), "maxrss_kb": ru.ru_maxrss}))


if __name__ == "__main__":
    main()
