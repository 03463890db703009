// Phone numbers printed on illegal adverts (小广告): mainland mobile and landline numbers, read
// from OCR text that may contain spaces, dashes, full-width digits and 一 for a dash.

const SEPARATORS = new Set([' ', '\t', '-', '‐', '‑', '–', '—', '－', '一', '.', '·', '_', '　']);

function normaliseDigit(ch: string): string | null {
  const code = ch.charCodeAt(0);
  if (code >= 0x30 && code <= 0x39) return ch;
  if (code >= 0xff10 && code <= 0xff19) return String.fromCharCode(code - 0xff10 + 0x30);
  return null;
}

/** Splits text into runs of digit groups joined only by separators. */
function digitRuns(text: string): string[][] {
  const runs: string[][] = [];
  let groups: string[] = [];
  let cur = '';
  let pendingSep = false;
  const flush = () => {
    if (cur) groups.push(cur);
    cur = '';
  };
  const endRun = () => {
    flush();
    if (groups.length) runs.push(groups);
    groups = [];
  };
  for (const ch of text) {
    const d = normaliseDigit(ch);
    if (d !== null) {
      if (pendingSep) flush();
      pendingSep = false;
      cur += d;
    } else if (SEPARATORS.has(ch) && (cur || groups.length)) {
      pendingSep = true;
    } else {
      endRun();
      pendingSep = false;
    }
  }
  endRun();
  return runs;
}

const MOBILE = /^1[3-9]\d{9}$/;

/** Landline as "area-local": 010 and 02x have 3-digit area codes, the rest 4; local part 7–8 digits. */
function landline(digits: string): string | null {
  if (!digits.startsWith('0')) return null;
  const areaLen = digits.startsWith('010') || digits.startsWith('02') ? 3 : 4;
  const local = digits.slice(areaLen);
  if (local.length < 7 || local.length > 8 || local.startsWith('0') || local.startsWith('1')) return null;
  return `${digits.slice(0, areaLen)}-${local}`;
}

/**
 * Mobile numbers (returned as 11 digits) and landlines (returned as "area-local") found in OCR
 * text, in reading order, without duplicates. Digit groups split by spaces or dashes are joined;
 * a number must not be glued to further digits (13812345678 inside 913812345678 is not a phone).
 */
export function extractPhoneNumbers(text: string): string[] {
  const found: string[] = [];
  for (const groups of digitRuns(text)) {
    let i = 0;
    while (i < groups.length) {
      let matched: { value: string; next: number } | null = null;
      let digits = '';
      for (let j = i; j < groups.length && digits.length + groups[j]!.length <= 12; j++) {
        digits += groups[j]!;
        if (MOBILE.test(digits)) matched = { value: digits, next: j + 1 };
        else {
          const l = landline(digits);
          if (l) matched = { value: l, next: j + 1 };
        }
      }
      if (matched) {
        if (!found.includes(matched.value)) found.push(matched.value);
        i = matched.next;
      } else {
        i++;
      }
    }
  }
  return found;
}
