import { describe, expect, it } from 'vitest';
import { extractPhoneNumbers } from './phones.js';

describe('extractPhoneNumbers', () => {
  it('finds a mobile number glued to Chinese text', () => {
    expect(extractPhoneNumbers('办证13812345678')).toEqual(['13812345678']);
  });

  it('joins digit groups split by spaces and dashes', () => {
    expect(extractPhoneNumbers('电话 138 1234 5678')).toEqual(['13812345678']);
    expect(extractPhoneNumbers('138-1234-5678')).toEqual(['13812345678']);
    expect(extractPhoneNumbers('TEL021-55556666')).toEqual(['021-55556666']);
    expect(extractPhoneNumbers('TEL 021 5555 6666')).toEqual(['021-55556666']);
  });

  it('reads full-width digits and 一 used as a dash', () => {
    expect(extractPhoneNumbers('１３９１２３４５６７８')).toEqual(['13912345678']);
    expect(extractPhoneNumbers('0755一82345678')).toEqual(['0755-82345678']);
  });

  it('splits landlines by area-code rules', () => {
    expect(extractPhoneNumbers('01088886666')).toEqual(['010-88886666']);
    expect(extractPhoneNumbers('057187654321')).toEqual(['0571-87654321']);
    expect(extractPhoneNumbers('0571-8765432')).toEqual(['0571-8765432']);
  });

  it('returns several numbers in reading order without duplicates', () => {
    expect(extractPhoneNumbers('办证13812345678 TEL 021-55556666 再拨13812345678')).toEqual(['13812345678', '021-55556666']);
    expect(extractPhoneNumbers('13812345678 15900001111')).toEqual(['13812345678', '15900001111']);
  });

  it('rejects numbers that are not phones', () => {
    expect(extractPhoneNumbers('12812345678')).toEqual([]); // no 12x mobile prefix
    expect(extractPhoneNumbers('913812345678')).toEqual([]); // glued to another digit
    expect(extractPhoneNumbers('1381234567')).toEqual([]); // 10 digits
    expect(extractPhoneNumbers('2024年10月1日')).toEqual([]);
    expect(extractPhoneNumbers('02101234567')).toEqual([]); // local part may not start with 0
    expect(extractPhoneNumbers('')).toEqual([]);
  });
});
