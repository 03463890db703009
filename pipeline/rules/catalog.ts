// The 17 violation classes as data. Everything the engine needs to decide "is this subject a hit
// for class C in zone Z" lives here, so adding a class or retuning a default is a data change.
//
// Default thresholds are chosen for real street cameras analysed at ~2 fps (analysis.fps default),
// not for the short fixture clips: fixtures and tests override them per camera via `classes`.
// Why the main dwell defaults are what they are:
// - illegal_parking 180 s: a red light or a drop-off lasts up to ~2 min; 3 min of standing still
//   in a no-parking zone is what enforcement teams treat as parking.
// - fire_lane_blocked 60 s: urgent, any stop longer than a minute blocks the lane.
// - street_vending 300 s: people wait, chat or smoke standing still for a few minutes; a vendor
//   stays far longer. mobile_vendor 120 s because the vehicle companion already makes it specific.
// - crowd_gathering 120 s with ≥ 8 persons: a crowd at a pedestrian light disperses within one
//   light cycle (< 2 min); a gathering does not.
// - static_object classes 300–600 s on top of the static detector's own ageing: a bag set down
//   while a bin lid is opened, or goods unloaded for a delivery, must not become a case.
// - window 20 frames / minHits 12 ≈ 10 s at 2 fps with 60 % hits: tolerates missed detections
//   without letting a flicker through. maxGapSec 10 s covers a bus passing in front.
import type { Urgency } from '../types.js';
import type { ZoneType } from './zone-types.js';

/** How evidence for a class is gathered. */
export type EvidencePrimitive =
  /** One tracked object stays (stationary) in a zone. Subject = track. */
  | 'object_dwell'
  /** Number of objects of a label inside a zone reaches a limit. Subject = the zone. */
  | 'object_count'
  /** A static_object blob from the background-change detector stays in a zone. Subject = blob. */
  | 'static_change'
  /** Text (posters, painted ads) detected by OCR stays in a zone. Subject = text region. */
  | 'text';

export interface ClassThresholds {
  /** Detector score a detection must reach to count as a hit. */
  minScore: number;
  /** Median of the subject's recent scores needed to enter warning/confirmed. */
  minMedianScore: number;
  /** Hysteresis: an open episode stays while the median is at least this (below minMedianScore). */
  exitMedianScore: number;
  minDwellSec: number;
  minHits: number;
  window: number;
  maxGapSec: number;
  cooldownSec: number;
  mergeWindowSec: number;
  warnAfterSec?: number;
  graceSec?: number;
  minCount?: number;
  /**
   * Count classes over people (crowd): members must stand within this many person heights of
   * another member to belong to one gathering. People spread over a plaza are not a crowd.
   */
  clusterGap?: number;
  /** Dwell classes over people: a subject whose box touches the frame border may still be a hit. */
  allowBorderCut?: boolean;
}

export interface ClassDef {
  id: string;
  nameZh: string;
  nameEn: string;
  primitive: EvidencePrimitive;
  /** Labels whose objects are the subject (or, for counts, are counted). */
  subjectLabels: readonly string[];
  /**
   * Labels the class needs from configured models, as groups: every group must have at least one
   * available label for the class to be active (e.g. mobile_vendor: person AND (bicycle OR motorcycle)).
   */
  requires: readonly (readonly string[])[];
  /** Labels of objects that must be next to the subject (mobile_vendor) or are noted when present. */
  companionLabels?: readonly string[];
  companionRequired?: boolean;
  /** The subject must be stationary (per the tracker); static blobs and text are static by nature. */
  requiresStationary: boolean;
  /** Zone types in which the class applies. */
  zoneTypes: readonly ZoneType[];
  /** The subject must be in no zone of these types (bike_out_of_fence: not inside any bike_fence). */
  excludedZoneTypes?: readonly ZoneType[];
  /** Box shape filter: 'flat' = height/width ≤ flatMaxAspect; 'not_flat' = above it. */
  shape?: 'flat' | 'not_flat';
  /** Classes that take precedence: a subject that is a hit for one of them is not a hit here. */
  yieldsTo?: readonly string[];
  /**
   * People dwell classes: people standing next to each other are one subject (a vendor and a
   * helper, two men talking are one stall / one group, hence one case, not two).
   */
  groupsPeople?: boolean;
  /**
   * Count classes: count distinct, confirmed, stationary tracks forming one cluster (clusterGap)
   * instead of raw detections. Walking people never count; a gathering stands together.
   */
  countsStationaryCluster?: boolean;
  defaults: ClassThresholds;
  urgency: Urgency;
  /** Hours within which the responsible party must act (general 24 h, urgent 4 h). */
  dueHours: number;
  /** Who is usually asked to fix it; a hint for case routing, not a legal determination. */
  responsibleParty: string;
}

/** Box height/width at or below which a static blob on the road reads as spilled material, not a heap. */
export const FLAT_MAX_ASPECT = 0.35;

const GENERAL = { urgency: 'general' as const, dueHours: 24 };
const URGENT = { urgency: 'urgent' as const, dueHours: 4 };

const PERSON_DEFAULTS: ClassThresholds = {
  minScore: 0.3,
  minMedianScore: 0.45,
  exitMedianScore: 0.35,
  minDwellSec: 300,
  minHits: 12,
  window: 20,
  maxGapSec: 10,
  cooldownSec: 300,
  mergeWindowSec: 120,
};

const VEHICLE_DEFAULTS: ClassThresholds = {
  ...PERSON_DEFAULTS,
  minScore: 0.35,
  minMedianScore: 0.5,
  exitMedianScore: 0.4,
  minDwellSec: 180,
  maxGapSec: 15,
};

const STATIC_DEFAULTS: ClassThresholds = {
  minScore: 0.3,
  minMedianScore: 0.4,
  exitMedianScore: 0.3,
  minDwellSec: 300,
  minHits: 12,
  window: 20,
  // Static blobs are often hidden by passers-by; they do not move, so a long gap is safe.
  maxGapSec: 30,
  cooldownSec: 600,
  mergeWindowSec: 300,
};

const MOTOR_VEHICLES = ['car', 'truck', 'bus'] as const;
const FURNITURE = ['chair', 'dining table', 'potted plant', 'bench'] as const;

export const CATALOG: readonly ClassDef[] = [
  {
    id: 'street_vending',
    nameZh: '占道经营',
    nameEn: 'Street vending',
    primitive: 'object_dwell',
    subjectLabels: ['person'],
    requires: [['person']],
    companionLabels: ['umbrella', 'dining table', 'chair', 'suitcase', 'handbag', 'backpack'],
    companionRequired: false,
    requiresStationary: true,
    zoneTypes: ['no_vending'],
    yieldsTo: ['mobile_vendor'],
    groupsPeople: true,
    // A person cut by the frame border is half seen: its footprint is a guess and it is usually
    // walking in or out of view. Cameras framed tight on a stall can allow it (allowBorderCut).
    defaults: { ...PERSON_DEFAULTS, minDwellSec: 300, allowBorderCut: false },
    ...GENERAL,
    responsibleParty: 'vendor (on-site street team)',
  },
  {
    id: 'mobile_vendor',
    nameZh: '流动摊贩',
    nameEn: 'Mobile vendor',
    primitive: 'object_dwell',
    subjectLabels: ['person'],
    requires: [['person'], ['bicycle', 'motorcycle']],
    companionLabels: ['bicycle', 'motorcycle'],
    companionRequired: true,
    requiresStationary: true,
    zoneTypes: ['no_vending', 'sidewalk'],
    groupsPeople: true,
    defaults: { ...PERSON_DEFAULTS, minDwellSec: 120, allowBorderCut: false },
    ...GENERAL,
    responsibleParty: 'vendor (on-site street team)',
  },
  {
    id: 'storefront_overflow',
    nameZh: '店外经营',
    nameEn: 'Storefront overflow',
    primitive: 'static_change',
    subjectLabels: ['static_object', ...FURNITURE],
    requires: [['static_object', ...FURNITURE]],
    requiresStationary: true,
    zoneTypes: ['storefront_apron'],
    defaults: { ...STATIC_DEFAULTS, minDwellSec: 300 },
    ...GENERAL,
    responsibleParty: 'shop owner',
  },
  {
    id: 'overflowing_bin',
    nameZh: '垃圾满溢',
    nameEn: 'Overflowing bin',
    primitive: 'static_change',
    subjectLabels: ['static_object'],
    requires: [['static_object']],
    requiresStationary: true,
    zoneTypes: ['bin_apron'],
    defaults: { ...STATIC_DEFAULTS, minDwellSec: 300 },
    ...GENERAL,
    responsibleParty: 'sanitation contractor',
  },
  {
    id: 'exposed_garbage',
    nameZh: '暴露垃圾',
    nameEn: 'Exposed garbage',
    primitive: 'static_change',
    subjectLabels: ['static_object'],
    requires: [['static_object']],
    requiresStationary: true,
    zoneTypes: ['sidewalk'],
    defaults: { ...STATIC_DEFAULTS, minDwellSec: 600 },
    ...GENERAL,
    responsibleParty: 'sanitation contractor',
  },
  {
    id: 'bike_out_of_fence',
    nameZh: '共享单车框外停放',
    nameEn: 'Shared bike parked outside e-fence',
    primitive: 'object_dwell',
    subjectLabels: ['bicycle'],
    requires: [['bicycle']],
    requiresStationary: true,
    zoneTypes: ['bike_area', 'sidewalk'],
    excludedZoneTypes: ['bike_fence'],
    defaults: { ...VEHICLE_DEFAULTS, minScore: 0.3, minMedianScore: 0.45, exitMedianScore: 0.35, minDwellSec: 300 },
    ...GENERAL,
    responsibleParty: 'bike-share operator',
  },
  {
    id: 'bike_disorder',
    nameZh: '共享单车堆积/超容',
    nameEn: 'Shared bikes piled up / over capacity',
    primitive: 'object_count',
    subjectLabels: ['bicycle'],
    requires: [['bicycle']],
    requiresStationary: false,
    zoneTypes: ['bike_fence'],
    defaults: {
      ...VEHICLE_DEFAULTS,
      minScore: 0.3,
      minMedianScore: 0.4,
      exitMedianScore: 0.3,
      minDwellSec: 600,
      maxGapSec: 30,
      minCount: 20,
    },
    ...GENERAL,
    responsibleParty: 'bike-share operator',
  },
  {
    id: 'illegal_parking',
    nameZh: '机动车违停',
    nameEn: 'Illegal parking',
    primitive: 'object_dwell',
    subjectLabels: MOTOR_VEHICLES,
    requires: [MOTOR_VEHICLES],
    requiresStationary: true,
    zoneTypes: ['no_parking'],
    defaults: { ...VEHICLE_DEFAULTS, minDwellSec: 180 },
    ...GENERAL,
    responsibleParty: 'vehicle owner (traffic police referral)',
  },
  {
    id: 'nonmotor_parking',
    nameZh: '非机动车乱停放',
    nameEn: 'Motorbike / e-bike parked on sidewalk',
    primitive: 'object_dwell',
    subjectLabels: ['motorcycle'],
    requires: [['motorcycle']],
    requiresStationary: true,
    zoneTypes: ['sidewalk', 'no_parking'],
    defaults: { ...VEHICLE_DEFAULTS, minScore: 0.3, minMedianScore: 0.45, exitMedianScore: 0.35, minDwellSec: 300 },
    ...GENERAL,
    responsibleParty: 'vehicle owner',
  },
  {
    id: 'road_obstruction',
    nameZh: '占道堆物',
    nameEn: 'Objects piled on the road',
    primitive: 'static_change',
    subjectLabels: ['static_object'],
    requires: [['static_object']],
    requiresStationary: true,
    zoneTypes: ['roadway'],
    shape: 'not_flat',
    yieldsTo: ['road_spillage'],
    defaults: { ...STATIC_DEFAULTS, minDwellSec: 300 },
    ...GENERAL,
    responsibleParty: 'adjacent property / site owner',
  },
  {
    id: 'road_spillage',
    nameZh: '道路遗撒',
    nameEn: 'Spillage on the road',
    primitive: 'static_change',
    subjectLabels: ['static_object'],
    requires: [['static_object']],
    requiresStationary: true,
    zoneTypes: ['roadway'],
    shape: 'flat',
    // Spilled material is a traffic hazard: confirm faster than a heap of goods.
    defaults: { ...STATIC_DEFAULTS, minDwellSec: 120 },
    ...GENERAL,
    responsibleParty: 'sanitation contractor (haulier liable if identified)',
  },
  {
    id: 'illegal_advertising',
    nameZh: '违规广告',
    nameEn: 'Illegal advertising',
    primitive: 'text',
    subjectLabels: ['text'],
    requires: [['text']],
    requiresStationary: true,
    zoneTypes: ['wall'],
    // OCR may run below the analysis rate; be lenient on hits, strict on dwell.
    defaults: { ...STATIC_DEFAULTS, minScore: 0.3, minMedianScore: 0.5, exitMedianScore: 0.4, minHits: 6, maxGapSec: 60 },
    ...GENERAL,
    responsibleParty: 'advertiser (phone number on the ad) / wall owner',
  },
  {
    id: 'crowd_gathering',
    nameZh: '人员聚集',
    nameEn: 'Crowd gathering',
    primitive: 'object_count',
    subjectLabels: ['person'],
    requires: [['person']],
    requiresStationary: false,
    zoneTypes: ['crowd_area'],
    countsStationaryCluster: true,
    // clusterGap 1.0: people in one gathering stand within about a body height of a neighbour.
    defaults: { ...PERSON_DEFAULTS, minMedianScore: 0.4, exitMedianScore: 0.3, minDwellSec: 120, minCount: 8, clusterGap: 1.0 },
    ...URGENT,
    responsibleParty: 'public security / street office',
  },
  {
    id: 'fire_lane_blocked',
    nameZh: '消防通道占用',
    nameEn: 'Fire lane blocked',
    primitive: 'object_dwell',
    subjectLabels: [...MOTOR_VEHICLES, 'motorcycle', 'static_object'],
    requires: [[...MOTOR_VEHICLES, 'motorcycle', 'static_object']],
    requiresStationary: true,
    zoneTypes: ['fire_lane'],
    defaults: { ...VEHICLE_DEFAULTS, minDwellSec: 60 },
    ...URGENT,
    responsibleParty: 'vehicle / property owner (fire brigade referral)',
  },
  {
    id: 'muck_truck_uncovered',
    nameZh: '渣土车未密闭',
    nameEn: 'Muck truck uncovered',
    primitive: 'object_dwell',
    subjectLabels: ['muck_truck_uncovered'],
    requires: [['muck_truck_uncovered']],
    // A moving uncovered truck is exactly the violation; no dwell-in-place needed.
    requiresStationary: false,
    zoneTypes: ['roadway'],
    defaults: { ...VEHICLE_DEFAULTS, minDwellSec: 2, minHits: 4, window: 8, cooldownSec: 600 },
    ...GENERAL,
    responsibleParty: 'haulage company',
  },
  {
    id: 'construction_hoarding',
    nameZh: '违规围挡',
    nameEn: 'Non-compliant construction hoarding',
    primitive: 'object_dwell',
    subjectLabels: ['construction_hoarding'],
    requires: [['construction_hoarding']],
    requiresStationary: true,
    zoneTypes: ['sidewalk', 'roadway'],
    defaults: { ...STATIC_DEFAULTS, minDwellSec: 600 },
    ...GENERAL,
    responsibleParty: 'construction site operator',
  },
  {
    id: 'clothes_drying',
    nameZh: '沿街晾晒',
    nameEn: 'Clothes drying along the street',
    primitive: 'object_dwell',
    subjectLabels: ['clothes_drying'],
    requires: [['clothes_drying']],
    requiresStationary: true,
    zoneTypes: ['sidewalk', 'wall', 'storefront_apron'],
    defaults: { ...STATIC_DEFAULTS, minDwellSec: 600 },
    ...GENERAL,
    responsibleParty: 'resident / shop owner',
  },
];

export const CLASS_IDS: readonly string[] = CATALOG.map((c) => c.id);

const BY_ID = new Map(CATALOG.map((c) => [c.id, c]));

export function getClass(id: string): ClassDef {
  const def = BY_ID.get(id);
  if (!def) throw new Error(`unknown violation class "${id}" (known: ${CLASS_IDS.join(', ')})`);
  return def;
}

export function isClassId(id: string): boolean {
  return BY_ID.has(id);
}
