// Compiled by .ci/run against types that openapi-typescript generated from the served document:
// if an operation, a multipart field or a response shape disappears, this stops compiling.
import type { paths, components } from "./schema";

type Search = paths["/api/v1/search"]["post"];
type SearchForm = NonNullable<Search["requestBody"]>["content"]["multipart/form-data"];
const form: SearchForm = { file: "bytes", topK: 5, minScore: 0.5, filter: '{"camera":"x"}' };

type SearchOk = Search["responses"][200]["content"]["application/json"];
const firstUrl = (r: SearchOk): string | undefined => r.results[0]?.url;

type Ingest = paths["/api/v1/images"]["post"];
type IngestForm = NonNullable<Ingest["requestBody"]>["content"]["multipart/form-data"];
const ingest: IngestForm = { files: ["bytes"], metadata: "{}" };
type IngestOk = Ingest["responses"][200]["content"]["application/json"];
const created = (r: IngestOk): boolean[] => r.items.map((i) => i.created);

type Problem = components["schemas"]["ProblemDetails"];
const problemType = (p: Problem): string | null | undefined => p.type;

type Embeddings = paths["/api/v1/embeddings"]["post"]["responses"][200]["content"]["application/json"];
const dims = (e: Embeddings): number => e.dimension;

type Query = paths["/api/v1/query"]["post"];
type QueryBody = NonNullable<Query["requestBody"]>["content"]["application/json"];
const query: QueryBody = {
  terms: [{ text: "a cat" }, { imageId: "0123456789abcdef0123456789abcdef", weight: 2 }, { image: "aGVsbG8=" }, { vector: [0.1, 0.2], weight: -0.5 }],
  topK: 5,
  minScore: 0.1,
  filter: { album: "trip" },
};
type QueryOk = Query["responses"][200]["content"]["application/json"];
const queryScores = (r: QueryOk): number[] => r.results.map((h) => h.score);
const textForm: SearchForm = { text: "a photo of a cat", topK: 3 };

type TextEmbeddings = paths["/api/v1/embeddings/text"]["post"];
const texts: NonNullable<TextEmbeddings["requestBody"]>["content"]["application/json"] = { texts: ["a cat"] };
type Model = paths["/api/v1/model"]["get"]["responses"][200]["content"]["application/json"];
const canSearchText = (m: Model): boolean => m.textSearch;

export { form, firstUrl, ingest, created, problemType, dims, query, queryScores, textForm, texts, canSearchText };
