// Generated container names in Docker's shape: adjective_surname (a surname of a scientist or
// engineer), with a digit appended when the first tries collide.
import { randomInt } from 'node:crypto';

const adjectives = [
  'admiring', 'adoring', 'affectionate', 'agitated', 'amazing', 'angry', 'awesome', 'beautiful',
  'blissful', 'bold', 'boring', 'brave', 'busy', 'charming', 'clever', 'compassionate', 'competent',
  'condescending', 'confident', 'cool', 'cranky', 'crazy', 'dazzling', 'determined', 'distracted',
  'dreamy', 'eager', 'ecstatic', 'elastic', 'elated', 'elegant', 'eloquent', 'epic', 'exciting',
  'fervent', 'festive', 'flamboyant', 'focused', 'friendly', 'frosty', 'funny', 'gallant', 'gifted',
  'goofy', 'gracious', 'great', 'happy', 'hardcore', 'heuristic', 'hopeful', 'hungry', 'infallible',
  'inspiring', 'intelligent', 'interesting', 'jolly', 'jovial', 'keen', 'kind', 'laughing', 'loving',
  'lucid', 'magical', 'modest', 'musing', 'mystifying', 'naughty', 'nervous', 'nice', 'nifty',
  'nostalgic', 'objective', 'optimistic', 'peaceful', 'pedantic', 'pensive', 'practical', 'priceless',
  'quirky', 'quizzical', 'recursing', 'relaxed', 'reverent', 'romantic', 'sad', 'serene', 'sharp',
  'silly', 'sleepy', 'stoic', 'strange', 'stupefied', 'suspicious', 'sweet', 'tender', 'thirsty',
  'trusting', 'unruffled', 'upbeat', 'vibrant', 'vigilant', 'vigorous', 'wizardly', 'wonderful',
  'xenodochial', 'youthful', 'zealous', 'zen',
];

const surnames = [
  'agnesi', 'albattani', 'allen', 'archimedes', 'babbage', 'banach', 'bardeen', 'bartik', 'bassi',
  'bell', 'bhabha', 'blackwell', 'bohr', 'booth', 'borg', 'bose', 'brahmagupta', 'brattain', 'brown',
  'carson', 'cerf', 'chandrasekhar', 'clarke', 'curie', 'darwin', 'davinci', 'dijkstra', 'dirac',
  'easley', 'einstein', 'elion', 'engelbart', 'euclid', 'euler', 'faraday', 'fermat', 'fermi',
  'feynman', 'franklin', 'galileo', 'gauss', 'germain', 'goldberg', 'goodall', 'hamilton', 'hawking',
  'heisenberg', 'hertz', 'hodgkin', 'hopper', 'hypatia', 'jackson', 'jemison', 'johnson', 'kalam',
  'kapitsa', 'kepler', 'knuth', 'kowalevski', 'lalande', 'lamarr', 'leakey', 'lovelace', 'lumiere',
  'mayer', 'mccarthy', 'mclean', 'meitner', 'mendel', 'mirzakhani', 'montalcini', 'moore', 'morse',
  'napier', 'newton', 'nightingale', 'nobel', 'noether', 'pascal', 'pasteur', 'payne', 'perlman',
  'pike', 'poincare', 'ramanujan', 'ride', 'ritchie', 'rosalind', 'sammet', 'shannon', 'shockley',
  'sinoussi', 'stallman', 'swanson', 'tesla', 'thompson', 'torvalds', 'turing', 'volhard', 'wescoff',
  'wiles', 'williams', 'wilson', 'wozniak', 'wright', 'yalow', 'yonath',
];

/** A fresh name for which `taken(name)` is false. */
export function generateName(taken: (name: string) => boolean): string {
  for (let attempt = 0; ; attempt++) {
    let name = `${adjectives[randomInt(adjectives.length)]}_${surnames[randomInt(surnames.length)]}`;
    if (name === 'boring_wozniak') continue; // Steve Wozniak is not boring (as Docker has it)
    if (attempt > 10) name += randomInt(10);
    if (!taken(name)) return name;
  }
}

export const validName = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
