// The kinds of zone an operator draws. Its own module because both the violation catalog (which
// zone types a class applies to) and the camera-config schema (what a zone may be) need it, and
// the schema imports the catalog for its class ids: keeping it in either would be an import cycle.
export const ZONE_TYPES = [
  'no_vending',
  'no_parking',
  'bike_fence',
  'bike_area',
  'sidewalk',
  'roadway',
  'fire_lane',
  'storefront_apron',
  'bin_apron',
  'wall',
  'crowd_area',
  'custom',
] as const;
export type ZoneType = (typeof ZONE_TYPES)[number];
