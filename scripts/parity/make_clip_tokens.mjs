// Reference token ids for the CLIP fixture's tokenizer.json from Hugging Face's tokenizers (the Rust
// library, through the @anush008/tokenizers node binding), and for comparison from the pure-JS
// @huggingface/tokenizers. Writes tests/fixtures/parity/clip-tiny-tokens.json.
//
//   npm install --prefix .tools/tokenizers @anush008/tokenizers@0.6.0 @huggingface/tokenizers@0.2.0
//   node scripts/parity/make_clip_tokens.mjs
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..");
const require = createRequire(path.join(root, ".tools", "tokenizers", "package.json"));
const rust = require("@anush008/tokenizers");
const js = await import(require.resolve("@huggingface/tokenizers").replace(/\.cjs$/, ".mjs"));

const tokenizerPath = path.join(root, "tests", "fixtures", "models", "clip-tiny", "tokenizer.json");
const context = JSON.parse(readFileSync(path.join(root, "tests", "fixtures", "models", "clip-tiny", "config.json"), "utf8"))
  .text_config.max_position_embeddings;

const long = "a photo of a dog running on the beach at sunset, with waves, birds, boats and people; " .repeat(6).trim();
export const corpus = [
  "a photo of a cat",
  "A Photo Of A CAT",
  "a dog running on the beach",
  "",
  "   ",
  "Hello, world! How's it going? (fine...) -- ok; yes: no?!",
  "it's, we're, they've, I'm, you'll, he'd, don't, IT'S",
  "numbers 1234567 and 3.14159, 1st 2nd 3rd, 10,000 km/h, 50% off",
  "café crème brûlée naïve façade Ångström",
  "cafe\u0301 cre\u0300me (decomposed accents, NFC makes them one code point)",
  "東京の夜景 北京 서울의 밤 中文字符",
  "emoji 🐶🐱 🚗💨 👩‍👩‍👧 ❤️ 🇫🇷",
  "  extra   spaces\tand\ttabs\n\nand newlines   ",
  "mixed: Ünïcödé ΕΛΛΗΝΙΚΆ русский текст עברית العربية",
  "symbols <> [] {} @#$%^&* ~`|\\ \"quotes\" 'single' «guillemets» —dash…",
  "a photo of <|endoftext|> a cat",
  "URLs https://example.com/path?q=1&x=2 and e-mail someone@example.org",
  "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
  long,
  "一" + "二三四五六七八九十".repeat(12),
];

const tokenizer = rust.Tokenizer.fromFile(tokenizerPath);
const truncating = rust.Tokenizer.fromFile(tokenizerPath);
truncating.setTruncation(context);
const jsTokenizer = new js.Tokenizer(JSON.parse(readFileSync(tokenizerPath, "utf8")), {});

const items = [];
let jsAgrees = 0;
for (const text of corpus) {
  const ids = (await tokenizer.encode(text)).getIds();
  const truncated = (await truncating.encode(text)).getIds();
  const jsIds = jsTokenizer.encode(text).ids;
  const same = jsIds.length === ids.length && jsIds.every((v, i) => v === ids[i]);
  jsAgrees += same ? 1 : 0;
  items.push({ text, ids, truncated, ...(same ? {} : { jsIds }) });
}

const out = path.join(root, "tests", "fixtures", "parity", "clip-tiny-tokens.json");
writeFileSync(out, JSON.stringify({
  tokenizer: "tests/fixtures/models/clip-tiny/tokenizer.json",
  reference: "tokenizers 0.22.2 (Rust) via @anush008/tokenizers 0.6.0",
  context,
  note: "ids: encode(text) with special tokens; truncated: the same with truncation to the context; jsIds: @huggingface/tokenizers 0.2.0 where it differs",
  items,
}, null, 1) + "\n");
console.log(`${items.length} texts, longest ${Math.max(...items.map(i => i.ids.length))} ids; @huggingface/tokenizers agrees on ${jsAgrees}/${items.length}; wrote ${path.relative(root, out)}`);
