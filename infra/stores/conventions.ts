// The case platform's conventions, per city: the category code of each class (大类/小类, in the
// style of the national 城市管理部件和事件分类与编码 for events), the time limit of each class in
// calendar hours, working hours or working days, and the working calendar those are counted in.
// Pure (no I/O): a city file is read and validated by loadConventions() in conventions-file.ts.
import { z } from 'zod';
import { CATALOG, getClass, isClassId } from '../../pipeline/rules/catalog.js';

export const categorySchema = z.object({
  code: z.string().regex(/^[0-9A-Za-z]{2,12}$/, 'a category code is 2-12 letters/digits (e.g. 0505)'),
  majorZh: z.string().min(1),
  minorZh: z.string().min(1),
});
export type Category = z.infer<typeof categorySchema>;

export const timeLimitSchema = z.object({
  amount: z.number().positive().max(10_000),
  unit: z.enum(['hours', 'workingHours', 'workingDays']),
});
export type TimeLimit = z.infer<typeof timeLimitSchema>;

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM');
const isoDay = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD');

export const calendarSchema = z
  .object({
    /** Days of the week that are working days, 0 = Sunday … 6 = Saturday. */
    workingWeekdays: z.array(z.number().int().min(0).max(6)).default([1, 2, 3, 4, 5]),
    /** Working hours of a working day, local time. */
    dayStart: hhmm.default('08:30'),
    dayEnd: hhmm.default('17:30'),
    /** Public holidays (no work even on a weekday). */
    holidays: z.array(isoDay).default([]),
    /** Make-up working days (调休: a weekend day that is worked). */
    extraWorkingDays: z.array(isoDay).default([]),
  })
  .refine((c) => c.dayStart < c.dayEnd, { message: 'dayStart must be before dayEnd', path: ['dayEnd'] });
export type WorkingCalendar = z.infer<typeof calendarSchema>;

export const conventionsSchema = z
  .object({
    city: z.string().min(1).default('default'),
    calendar: calendarSchema.default({
      workingWeekdays: [1, 2, 3, 4, 5],
      dayStart: '08:30',
      dayEnd: '17:30',
      holidays: [],
      extraWorkingDays: [],
    }),
    categories: z.record(z.string(), categorySchema).default({}),
    timeLimits: z.record(z.string(), timeLimitSchema).default({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    for (const k of [...Object.keys(c.categories), ...Object.keys(c.timeLimits)]) {
      if (!isClassId(k))
        ctx.addIssue({ code: 'custom', message: `unknown violation class "${k}" (known: ${CATALOG.map((x) => x.id).join(', ')})` });
    }
  });
export type ConventionsConfig = z.input<typeof conventionsSchema>;

/**
 * Default category codes: events of the national scheme are 大类 01 市容环境, 02 宣传广告,
 * 03 施工管理, 05 街面秩序 with a two-digit 小类. Cities map these to their own codes in config.
 */
export const DEFAULT_CATEGORIES: Readonly<Record<string, Category>> = {
  street_vending: { code: '0501', majorZh: '街面秩序', minorZh: '占道经营' },
  mobile_vendor: { code: '0502', majorZh: '街面秩序', minorZh: '无照经营游商' },
  storefront_overflow: { code: '0503', majorZh: '街面秩序', minorZh: '店外经营' },
  illegal_parking: { code: '0504', majorZh: '街面秩序', minorZh: '机动车乱停放' },
  nonmotor_parking: { code: '0505', majorZh: '街面秩序', minorZh: '非机动车乱停放' },
  bike_out_of_fence: { code: '0506', majorZh: '街面秩序', minorZh: '共享单车乱停放' },
  bike_disorder: { code: '0507', majorZh: '街面秩序', minorZh: '共享单车堆积' },
  road_obstruction: { code: '0508', majorZh: '街面秩序', minorZh: '占道堆物' },
  clothes_drying: { code: '0509', majorZh: '街面秩序', minorZh: '沿街晾挂' },
  crowd_gathering: { code: '0510', majorZh: '街面秩序', minorZh: '人员聚集' },
  fire_lane_blocked: { code: '0511', majorZh: '街面秩序', minorZh: '占用消防通道' },
  exposed_garbage: { code: '0102', majorZh: '市容环境', minorZh: '暴露垃圾' },
  overflowing_bin: { code: '0103', majorZh: '市容环境', minorZh: '垃圾满溢' },
  road_spillage: { code: '0104', majorZh: '市容环境', minorZh: '道路遗撒' },
  illegal_advertising: { code: '0201', majorZh: '宣传广告', minorZh: '违规广告' },
  muck_truck_uncovered: { code: '0301', majorZh: '施工管理', minorZh: '渣土车辆未密闭' },
  construction_hoarding: { code: '0302', majorZh: '施工管理', minorZh: '违规围挡' },
};

export interface Due {
  dueAt: number;
  /** Calendar hours from creation to dueAt (what `dueHours` has always meant). */
  dueHours: number;
  limit: TimeLimit;
}

export interface CaseConventions {
  readonly city: string;
  category(classId: string): Category | null;
  timeLimit(classId: string): TimeLimit;
  due(classId: string, createdAt: number, timeZone: string): Due;
}

// Building an Intl formatter costs far more than using one: one per time zone, kept.
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      weekday: 'short',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export interface LocalTime {
  /** YYYY-MM-DD */
  day: string;
  /** 0 = Sunday … 6 = Saturday */
  weekday: number;
  hour: number;
  /** Minutes since local midnight (with seconds as a fraction). */
  minutes: number;
  year: number;
  month: number;
  date: number;
  second: number;
}

/** Local wall-clock parts of an instant in a time zone. */
export function localTime(epochMs: number, timeZone: string): LocalTime {
  const p: Record<string, string> = {};
  for (const x of formatter(timeZone).formatToParts(new Date(epochMs))) p[x.type] = x.value;
  const hour = Number(p.hour) % 24;
  return {
    day: `${p.year}-${p.month}-${p.day}`,
    weekday: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(p.weekday!),
    hour,
    minutes: hour * 60 + Number(p.minute) + Number(p.second) / 60,
    year: Number(p.year),
    month: Number(p.month),
    date: Number(p.day),
    second: Number(p.second),
  };
}
const localParts = localTime;

/** Offset (ms) of a time zone at an instant: local wall time − UTC. */
function zoneOffset(epochMs: number, timeZone: string): number {
  const p = localTime(epochMs, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.date, p.hour, Math.floor(p.minutes % 60), p.second);
  return asUtc - Math.floor(epochMs / 1000) * 1000;
}

/** The instant of a local wall-clock time (day YYYY-MM-DD + minutes) in a time zone. */
function instantOf(day: string, minutes: number, timeZone: string): number {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const guess = Date.UTC(y, m - 1, d, 0, 0, 0) + minutes * 60_000;
  // Two passes settle DST edges (China has none; other cities may).
  let t = guess - zoneOffset(guess, timeZone);
  t = guess - zoneOffset(t, timeZone);
  return t;
}

function nextDay(day: string): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
}

function weekdayOf(day: string): number {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d)).getUTCDay();
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

export function isWorkingDay(cal: WorkingCalendar, day: string): boolean {
  if (cal.extraWorkingDays.includes(day)) return true;
  if (cal.holidays.includes(day)) return false;
  return cal.workingWeekdays.includes(weekdayOf(day));
}

/**
 * The instant a time limit runs out for something opened at `start`. Working hours count only the
 * working day's hours (a case opened after hours starts counting the next working morning);
 * working days end at the close of the Nth working day after the opening day.
 */
export function dueInstant(limit: TimeLimit, start: number, timeZone: string, cal: WorkingCalendar): number {
  if (limit.unit === 'hours') return start + limit.amount * 3_600_000;
  const open = minutesOf(cal.dayStart);
  const close = minutesOf(cal.dayEnd);
  const local = localParts(start, timeZone);
  let day = local.day;
  if (limit.unit === 'workingDays') {
    let left = Math.ceil(limit.amount);
    for (let guard = 0; guard < 3660; guard++) {
      day = nextDay(day);
      if (isWorkingDay(cal, day) && --left === 0) return instantOf(day, close, timeZone);
    }
    throw new Error('working calendar has no working days');
  }
  let leftMin = limit.amount * 60;
  let from = local.minutes;
  for (let guard = 0; guard < 3660; guard++) {
    if (isWorkingDay(cal, day)) {
      const s = Math.max(from, open);
      const avail = Math.max(0, close - s);
      if (avail >= leftMin) return instantOf(day, s + leftMin, timeZone);
      leftMin -= avail;
    }
    day = nextDay(day);
    from = 0;
  }
  throw new Error('working calendar has no working hours');
}

export function makeConventions(input: ConventionsConfig = {}): CaseConventions {
  const cfg = conventionsSchema.parse(input);
  return {
    city: cfg.city,
    category: (classId) => cfg.categories[classId] ?? DEFAULT_CATEGORIES[classId] ?? null,
    timeLimit: (classId) => cfg.timeLimits[classId] ?? { amount: getClass(classId).dueHours, unit: 'hours' },
    due(classId, createdAt, timeZone) {
      const limit = this.timeLimit(classId);
      const dueAt = dueInstant(limit, createdAt, timeZone, cfg.calendar);
      return { dueAt, dueHours: Math.round(((dueAt - createdAt) / 3_600_000) * 100) / 100, limit };
    },
  };
}

/** Catalog time limits in calendar hours (what cases always had), default category codes. */
export function defaultConventions(): CaseConventions {
  return makeConventions({});
}
