<?xml version="1.0" encoding="UTF-8"?>
<core:CityModel xmlns:grp="http://www.opengis.net/citygml/cityobjectgroup/2.0" xmlns:core="http://www.opengis.net/citygml/2.0" xmlns:pbase="http://www.opengis.net/citygml/profiles/base/2.0" xmlns:smil20lang="http://www.w3.org/2001/SMIL20/Language" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:smil20="http://www.w3.org/2001/SMIL20/" xmlns:bldg="http://www.opengis.net/citygml/building/2.0" xmlns:xAL="urn:oasis:names:tc:ciq:xsdschema:xAL:2.0" xmlns:uro="https://www.chisou.go.jp/tiiki/toshisaisei/itoshisaisei/iur/uro/1.5" xmlns:luse="http://www.opengis.net/citygml/landuse/2.0" xmlns:app="http://www.opengis.net/citygml/appearance/2.0" xmlns:gen="http://www.opengis.net/citygml/generics/2.0" xmlns:dem="http://www.opengis.net/citygml/relief/2.0" xmlns:tex="http://www.opengis.net/citygml/texturedsurface/2.0" xmlns:tun="http://www.opengis.net/citygml/tunnel/2.0" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:sch="http://www.ascc.net/xml/schematron" xmlns:veg="http://www.opengis.net/citygml/vegetation/2.0" xmlns:frn="http://www.opengis.net/citygml/cityfurniture/2.0" xmlns:gml="http://www.opengis.net/gml" xmlns:tran="http://www.opengis.net/citygml/transportation/2.0" xmlns:wtr="http://www.opengis.net/citygml/waterbody/2.0" xmlns:brid="http://www.opengis.net/citygml/bridge/2.0" xsi:schemaLocation="https://www.chisou.go.jp/tiiki/toshisaisei/itoshisaisei/iur/uro/1.5 https://www.chisou.go.jp/tiiki/toshisaisei/itoshisaisei/iur/schemas/uro/1.5/urbanObject.xsd http://www.opengis.net/citygml/2.0 http://schemas.opengis.net/citygml/2.0/cityGMLBase.xsd http://www.opengis.net/citygml/landuse/2.0 http://schemas.opengis.net/citygml/landuse/2.0/landUse.xsd http://www.opengis.net/citygml/building/2.0 http://schemas.opengis.net/citygml/building/2.0/building.xsd http://www.opengis.net/citygml/transportation/2.0 http://schemas.opengis.net/citygml/transportation/2.0/transportation.xsd http://www.opengis.net/citygml/generics/2.0 http://schemas.opengis.net/citygml/generics/2.0/generics.xsd http://www.opengis.net/citygml/waterbody/2.0 http://schemas.opengis.net/citygml/waterbody/2.0/waterBody.xsd http://www.opengis.net/citygml/cityobjectgroup/2.0  http://schemas.opengis.net/citygml/cityobjectgroup/2.0/cityObjectGroup.xsd http://www.opengis.net/gml  http://schemas.opengis.net/gml/3.1.1/base/gml.xsd http://www.opengis.net/citygml/appearance/2.0 http://schemas.opengis.net/citygml/appearance/2.0/appearance.xsd">
	<gml:boundedBy>
		<gml:Envelope srsName="http://www.opengis.net/def/crs/EPSG/0/6697" srsDimension="3">
			<gml:lowerCorner>35.1 138.8595625 8.24</gml:lowerCorner>
			<gml:upperCorner>35.10245833 138.8625 8.37</gml:upperCorner>
		</gml:Envelope>
	</gml:boundedBy>
	<core:cityObjectMember>
		<wtr:WaterBody gml:id="wtr_9028db5e-9a22-4ccb-ab53-695a62c477ff">
			<gml:name codeSpace="../../codelists/WaterBody_name.xml">狩野川水系狩野川洪水浸水想定区域図（想定最大規模）</gml:name>
			<gen:stringAttribute name="種類">
				<gen:value>2</gen:value>
			</gen:stringAttribute>
			<gen:genericAttributeSet name="洪水浸水想定区域（想定最大規模）">
				<gen:stringAttribute name="規模">
					<gen:value>L2</gen:value>
				</gen:stringAttribute>
				<gen:stringAttribute name="浸水ランク">
					<gen:value>1</gen:value>
				</gen:stringAttribute>
			</gen:genericAttributeSet>
			<wtr:class codeSpace="../../codelists/WaterBody_class.xml">1140</wtr:class>
			<wtr:lod1MultiSurface>
				<gml:MultiSurface>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10008333 138.860125 8.27 35.10010417 138.860125 8.27 35.10010417 138.86009375 8.27 35.10008333 138.860125 8.27</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10010417 138.86009375 8.27 35.10010417 138.8600625 8.27 35.10008333 138.86009375 8.27 35.10010417 138.86009375 8.27</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10010417 138.86009375 8.27 35.100125 138.86009375 8.27 35.100125 138.8600625 8.27 35.10010417 138.86009375 8.27</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10010417 138.86009375 8.27 35.10010417 138.860125 8.27 35.100125 138.86009375 8.27 35.10010417 138.86009375 8.27</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10010417 138.86009375 8.27 35.10008333 138.86009375 8.27 35.10008333 138.860125 8.27 35.10010417 138.86009375 8.27</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10008333 138.86009375 8.27 35.10010417 138.8600625 8.27 35.10008333 138.8600625 8.27 35.10008333 138.86009375 8.27</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10010417 138.860125 8.27 35.100125 138.860125 8.27 35.100125 138.86009375 8.27 35.10010417 138.860125 8.27</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10010417 138.8600625 8.27 35.10010417 138.86009375 8.27 35.100125 138.8600625 8.27 35.10010417 138.8600625 8.27</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
				</gml:MultiSurface>
			</wtr:lod1MultiSurface>
		</wtr:WaterBody>
	</core:cityObjectMember>
	<core:cityObjectMember>
		<wtr:WaterBody gml:id="wtr_727cad2f-f1e3-4630-89cd-8270056da508">
			<gml:name codeSpace="../../codelists/WaterBody_name.xml">狩野川水系狩野川洪水浸水想定区域図（想定最大規模）</gml:name>
			<gen:stringAttribute name="種類">
				<gen:value>2</gen:value>
			</gen:stringAttribute>
			<gen:genericAttributeSet name="洪水浸水想定区域（想定最大規模）">
				<gen:stringAttribute name="規模">
					<gen:value>L2</gen:value>
				</gen:stringAttribute>
				<gen:stringAttribute name="浸水ランク">
					<gen:value>1</gen:value>
				</gen:stringAttribute>
			</gen:genericAttributeSet>
			<wtr:class codeSpace="../../codelists/WaterBody_class.xml">1140</wtr:class>
			<wtr:lod1MultiSurface>
				<gml:MultiSurface>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.100125 138.8605 8.28 35.10010416 138.8605 8.28 35.10010416 138.86053125 8.28 35.100125 138.8605 8.28</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10010416 138.8605 8.28 35.10008333 138.86053125 8.28 35.10010416 138.86053125 8.28 35.10010416 138.8605 8.28</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10010416 138.86053125 8.28 35.10008333 138.86053125 8.28 35.10008333 138.8605625 8.28 35.10010416 138.86053125 8.28</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10010416 138.86053125 8.28 35.100125 138.8605625 8.28 35.100125 138.8605516 8.28 35.10010416 138.86053125 8.28</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10010416 138.86053125 8.28 35.100125 138.8605516 8.28 35.100125 138.8605 8.28 35.10010416 138.86053125 8.28</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10008333 138.8605 8.28 35.10008333 138.86053125 8.28 35.10010416 138.8605 8.28 35.10008333 138.8605 8.28</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10010416 138.86053125 8.28 35.10008333 138.8605625 8.28 35.100125 138.8605625 8.28 35.10010416 138.86053125 8.28</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
				</gml:MultiSurface>
			</wtr:lod1MultiSurface>
		</wtr:WaterBody>
	</core:cityObjectMember>
	<core:cityObjectMember>
		<wtr:WaterBody gml:id="wtr_147b01f2-2afa-450e-9962-848a71cc3672">
			<gml:name codeSpace="../../codelists/WaterBody_name.xml">狩野川水系狩野川洪水浸水想定区域図（想定最大規模）</gml:name>
			<gen:stringAttribute name="種類">
				<gen:value>2</gen:value>
			</gen:stringAttribute>
			<gen:genericAttributeSet name="洪水浸水想定区域（想定最大規模）">
				<gen:stringAttribute name="規模">
					<gen:value>L2</gen:value>
				</gen:stringAttribute>
				<gen:stringAttribute name="浸水ランク">
					<gen:value>1</gen:value>
				</gen:stringAttribute>
			</gen:genericAttributeSet>
			<wtr:class codeSpace="../../codelists/WaterBody_class.xml">1140</wtr:class>
			<wtr:lod1MultiSurface>
				<gml:MultiSurface>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10004167 138.86065625 8.28 35.1000625 138.86065625 8.28 35.10004167 138.860625 8.28 35.10004167 138.86065625 8.28</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10004167 138.8606875 8.28 35.1000625 138.8606875 8.28 35.10004167 138.86065625 8.28 35.10004167 138.8606875 8.28</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10008333 138.860625 8.28 35.1000625 138.86065625 8.28 35.10008333 138.86066567 8.28 35.10008333 138.860625 8.28</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10004167 138.86065625 8.28 35.1000625 138.8606875 8.28 35.1000625 138.86065625 8.28 35.10004167 138.86065625 8.28</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.1000625 138.860625 8.28 35.1000625 138.86065625 8.28 35.10008333 138.860625 8.28 35.1000625 138.860625 8.28</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.1000625 138.86065625 8.28 35.1000625 138.860625 8.28 35.10004167 138.860625 8.28 35.1000625 138.86065625 8.28</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10008333 138.8606875 8.28 35.10008333 138.86066567 8.28 35.1000625 138.8606875 8.28 35.10008333 138.8606875 8.28</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.1000625 138.86065625 8.28 35.1000625 138.8606875 8.28 35.10008333 138.86066567 8.28 35.1000625 138.86065625 8.28</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
				</gml:MultiSurface>
			</wtr:lod1MultiSurface>
		</wtr:WaterBody>
	</core:cityObjectMember>
	<core:cityObjectMember>
		<wtr:WaterBody gml:id="wtr_c1990d0c-2f48-40af-9926-5a563a21617f">
			<gml:name codeSpace="../../codelists/WaterBody_name.xml">狩野川水系狩野川洪水浸水想定区域図（想定最大規模）</gml:name>
			<gen:stringAttribute name="種類">
				<gen:value>2</gen:value>
			</gen:stringAttribute>
			<gen:genericAttributeSet name="洪水浸水想定区域（想定最大規模）">
				<gen:stringAttribute name="規模">
					<gen:value>L2</gen:value>
				</gen:stringAttribute>
				<gen:stringAttribute name="浸水ランク">
					<gen:value>1</gen:value>
				</gen:stringAttribute>
			</gen:genericAttributeSet>
			<wtr:class codeSpace="../../codelists/WaterBody_class.xml">1140</wtr:class>
			<wtr:lod1MultiSurface>
				<gml:MultiSurface>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10020833 138.8606875 8.29 35.10016667 138.8606875 8.29 35.1001875 138.86071875 8.29 35.10020833 138.8606875 8.29</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10016667 138.8606875 8.29 35.10016667 138.86071875 8.29 35.1001875 138.86071875 8.29 35.10016667 138.8606875 8.29</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10016667 138.86075 8.29 35.1001875 138.86071875 8.29 35.10016667 138.86071875 8.29 35.10016667 138.86075 8.29</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10020833 138.86075 8.29 35.10020833 138.8606875 8.29 35.1001875 138.86071875 8.29 35.10020833 138.86075 8.29</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.1001875 138.86071875 8.29 35.1001875 138.86075 8.29 35.10020833 138.86075 8.29 35.1001875 138.86071875 8.29</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.1001875 138.86071875 8.29 35.10016667 138.86075 8.29 35.1001875 138.86075 8.29 35.1001875 138.86071875 8.29</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
				</gml:MultiSurface>
			</wtr:lod1MultiSurface>
		</wtr:WaterBody>
	</core:cityObjectMember>
	<core:cityObjectMember>
		<wtr:WaterBody gml:id="wtr_8b16709e-1f8a-4849-8d7a-f6aabad7063e">
			<gml:name codeSpace="../../codelists/WaterBody_name.xml">狩野川水系狩野川洪水浸水想定区域図（想定最大規模）</gml:name>
			<gen:stringAttribute name="種類">
				<gen:value>2</gen:value>
			</gen:stringAttribute>
			<gen:genericAttributeSet name="洪水浸水想定区域（想定最大規模）">
				<gen:stringAttribute name="規模">
					<gen:value>L2</gen:value>
				</gen:stringAttribute>
				<gen:stringAttribute name="浸水ランク">
					<gen:value>1</gen:value>
				</gen:stringAttribute>
			</gen:genericAttributeSet>
			<wtr:class codeSpace="../../codelists/WaterBody_class.xml">1140</wtr:class>
			<wtr:lod1MultiSurface>
				<gml:MultiSurface>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10210417 138.86221875 8.32 35.10210417 138.8621875 8.32 35.10208333 138.8621875 8.32 35.10210417 138.86221875 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10208333 138.8621875 8.32 35.1020625 138.86221875 8.32 35.10210417 138.86221875 8.32 35.10208333 138.8621875 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.1020625 138.86221875 8.32 35.10208333 138.86225 8.32 35.10210417 138.86221875 8.32 35.1020625 138.86221875 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10210417 138.86221875 8.32 35.10208333 138.86225 8.32 35.10210417 138.86225 8.32 35.10210417 138.86221875 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.102125 138.86221875 8.32 35.102125 138.8621875 8.32 35.10210417 138.8621875 8.32 35.102125 138.86221875 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10210417 138.86221875 8.32 35.102125 138.86225 8.32 35.102125 138.86221875 8.32 35.10210417 138.86221875 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.1020625 138.86228125 8.32 35.1020625 138.8623125 8.32 35.10208333 138.8623125 8.32 35.1020625 138.86228125 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10208333 138.8623125 8.32 35.10208333 138.86228125 8.32 35.1020625 138.86228125 8.32 35.10208333 138.8623125 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.1020625 138.86228125 8.32 35.10208333 138.86228125 8.32 35.10208333 138.86225 8.32 35.1020625 138.86228125 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10204167 138.86225 8.32 35.1020625 138.86228125 8.32 35.10208333 138.86225 8.32 35.10204167 138.86225 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10204167 138.86225 8.32 35.10204167 138.86228125 8.32 35.1020625 138.86228125 8.32 35.10204167 138.86225 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10204167 138.86228125 8.32 35.10204167 138.8623125 8.32 35.1020625 138.8623125 8.32 35.10204167 138.86228125 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.1020625 138.86228125 8.32 35.10204167 138.86228125 8.32 35.1020625 138.8623125 8.32 35.1020625 138.86228125 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10210417 138.86225 8.32 35.102125 138.86225 8.32 35.10210417 138.86221875 8.32 35.10210417 138.86225 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10208333 138.86225 8.32 35.1020625 138.86221875 8.32 35.10204167 138.86225 8.32 35.10208333 138.86225 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.1020625 138.86221875 8.32 35.10204167 138.86221875 8.32 35.10204167 138.86225 8.32 35.1020625 138.86221875 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10204167 138.8621875 8.32 35.10204167 138.86221875 8.32 35.1020625 138.86221875 8.32 35.10204167 138.8621875 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.1020625 138.86221875 8.32 35.1020625 138.8621875 8.32 35.10204167 138.8621875 8.32 35.1020625 138.86221875 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.1020625 138.86221875 8.32 35.10208333 138.8621875 8.32 35.1020625 138.8621875 8.32 35.1020625 138.86221875 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10210417 138.86221875 8.32 35.102125 138.86221875 8.32 35.10210417 138.8621875 8.32 35.10210417 138.86221875 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
				</gml:MultiSurface>
			</wtr:lod1MultiSurface>
		</wtr:WaterBody>
	</core:cityObjectMember>
	<core:cityObjectMember>
		<wtr:WaterBody gml:id="wtr_ba69a621-2b13-47d3-aca7-e16e7100b9e7">
			<gml:name codeSpace="../../codelists/WaterBody_name.xml">狩野川水系狩野川洪水浸水想定区域図（想定最大規模）</gml:name>
			<gen:stringAttribute name="種類">
				<gen:value>2</gen:value>
			</gen:stringAttribute>
			<gen:genericAttributeSet name="洪水浸水想定区域（想定最大規模）">
				<gen:stringAttribute name="規模">
					<gen:value>L2</gen:value>
				</gen:stringAttribute>
				<gen:stringAttribute name="浸水ランク">
					<gen:value>2</gen:value>
				</gen:stringAttribute>
			</gen:genericAttributeSet>
			<wtr:class codeSpace="../../codelists/WaterBody_class.xml">1140</wtr:class>
			<wtr:lod1MultiSurface>
				<gml:MultiSurface>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10108333 138.86128125 8.31 35.1010625 138.86128125 8.31 35.10108333 138.8613125 8.31 35.10108333 138.86128125 8.31</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.1010625 138.86128125 8.31 35.1010625 138.8613125 8.31 35.10108333 138.8613125 8.31 35.1010625 138.86128125 8.31</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10102084 138.86134375 8.31 35.10104167 138.86134375 8.31 35.10104167 138.8613125 8.31 35.10102084 138.86134375 8.31</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10102084 138.86134375 8.31 35.10104167 138.8613125 8.31 35.10102084 138.86128125 8.31 35.10102084 138.86134375 8.31</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10104167 138.8613125 8.31 35.1010625 138.86128125 8.31 35.10102084 138.86128125 8.31 35.10104167 138.8613125 8.31</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
				</gml:MultiSurface>
			</wtr:lod1MultiSurface>
		</wtr:WaterBody>
	</core:cityObjectMember>
	<core:cityObjectMember>
		<wtr:WaterBody gml:id="wtr_dc81c1b4-352a-4008-a788-3746cc03f157">
			<gml:name codeSpace="../../codelists/WaterBody_name.xml">狩野川水系狩野川洪水浸水想定区域図（想定最大規模）</gml:name>
			<gen:stringAttribute name="種類">
				<gen:value>2</gen:value>
			</gen:stringAttribute>
			<gen:genericAttributeSet name="洪水浸水想定区域（想定最大規模）">
				<gen:stringAttribute name="規模">
					<gen:value>L2</gen:value>
				</gen:stringAttribute>
				<gen:stringAttribute name="浸水ランク">
					<gen:value>3</gen:value>
				</gen:stringAttribute>
			</gen:genericAttributeSet>
			<wtr:class codeSpace="../../codelists/WaterBody_class.xml">1140</wtr:class>
			<wtr:lod1MultiSurface>
				<gml:MultiSurface>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.1008125 138.86178125 8.32 35.10085416 138.86184375 8.32 35.10085416 138.86178125 8.32 35.1008125 138.86178125 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10089584 138.86178125 8.32 35.10085416 138.86178125 8.32 35.10085416 138.86184375 8.32 35.10089584 138.86178125 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10089584 138.86184375 8.32 35.10089584 138.86178125 8.32 35.10085416 138.86184375 8.32 35.10089584 138.86184375 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10089584 138.86184375 8.32 35.10085416 138.86184375 8.32 35.10089584 138.86190625 8.32 35.10089584 138.86184375 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
					<gml:surfaceMember>
						<gml:Polygon>
							<gml:exterior>
								<gml:LinearRing>
									<gml:posList>35.10089584 138.86190625 8.32 35.10085416 138.86184375 8.32 35.10085416 138.86190625 8.32 35.10089584 138.86190625 8.32</gml:posList>
								</gml:LinearRing>
							</gml:exterior>
						</gml:Polygon>
					</gml:surfaceMember>
				</gml:MultiSurface>
			</wtr:lod1MultiSurface>
		</wtr:WaterBody>
	</core:cityObjectMember>
</core:CityModel>
