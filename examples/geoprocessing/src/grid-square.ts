/**
 * A grid square as GeoJSON (RFC 7946): the cell whose lower-left corner is (x, y). The exterior
 * ring runs counter-clockwise and is closed (its last position repeats the first).
 */
export interface GeoJsonPolygon {
  type: 'Polygon';
  coordinates: [number, number][][];
}

export function gridSquare(x: number, y: number, side = 1): GeoJsonPolygon {
  if (!Number.isFinite(x) || !Number.isFinite(y)) throw new TypeError(`grid square corner must be finite numbers, got (${String(x)}, ${String(y)})`);
  if (!(side > 0)) throw new TypeError(`grid square side must be positive, got ${side}`);
  return {
    type: 'Polygon',
    coordinates: [[[x, y], [x + side, y], [x + side, y + side], [x, y + side], [x, y]]],
  };
}
